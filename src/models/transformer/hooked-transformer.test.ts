// GPT-2 and LLaMA (GQA) built from Hugging Face files against the float64 TransformerLens-style
// reference (test/fixtures/transformers): logits, every hook, and ∂M/∂hook from one backward pass.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelDir, fixturePath, TRANSFORMER_MODELS, useTransformerFixture } from '../../../test/transformers.js';
import { SafetensorsFile } from '../../io/safetensors.js';
import { loadTransformer } from '../../io/load-transformer.js';
import { logitDifferenceCotangent } from './hooked-transformer.js';

/** max |a − e| / max |e| (the reference README's metric). */
function relErr(a: ArrayLike<number>, e: ArrayLike<number>): number {
  expect(a.length).toBe(e.length);
  let [num, den] = [0, 0];
  for (let i = 0; i < e.length; i++) {
    const [x, y] = [a[i]!, e[i]!];
    if (y === -Infinity) {
      expect(x).toBe(-Infinity);
      continue;
    }
    num = Math.max(num, Math.abs(x - y));
    den = Math.max(den, Math.abs(y));
  }
  return num / (den || 1);
}

describe.each(TRANSFORMER_MODELS)('%s', (name) => {
  const fixture = useTransformerFixture(name);
  let ref: SafetensorsFile;
  beforeAll(() => {
    ref = SafetensorsFile.parse(new Uint8Array(readFileSync(fixturePath(`${name}.hooks.safetensors`))));
  });

  it('logits and every hook of the reference match to 1e-4', async () => {
    const [model, cases] = [fixture.model(), fixture.cases()];
    const tokens = cases[0]!.tokens;
    expect(ref.metadata.tokens).toBe(tokens.join(','));
    const hooks = ref.names.filter((n) => !n.startsWith('grad.') && !n.startsWith('corrupt.') && n !== 'logits');
    expect(hooks.length).toBeGreaterThan(40);
    const { logits, cache } = await model.runWithCache(tokens, hooks);
    expect(logits.shape).toEqual(ref.get('logits').shape);
    expect(relErr(logits.data, ref.get('logits').data)).toBeLessThan(1e-4);
    for (const h of hooks) {
      const got = cache.get(h)!;
      expect(got.shape, h).toEqual(ref.get(h).shape);
      expect(relErr(got.data, ref.get(h).data), h).toBeLessThan(1e-4);
    }
    const corrupt = await model.runWithCache(cases[0]!.corrupt_tokens, hooks.filter((h) => ref.has(`corrupt.${h}`)));
    for (const [h, v] of corrupt.cache) expect(relErr(v.data, ref.get(`corrupt.${h}`).data), h).toBeLessThan(1e-4);
  });

  it('metric M on every case, clean and corrupt, batched in one run', async () => {
    const [model, cases] = [fixture.model(), fixture.cases()];
    const rows = cases.flatMap((c) => [c.tokens, c.corrupt_tokens]);
    const byLength = new Map<number, number[]>();
    rows.forEach((r, i) => byLength.set(r.length, [...(byLength.get(r.length) ?? []), i]));
    for (const [len, idx] of byLength) {
      const logits = await model.run(idx.map((i) => rows[i]!));
      const v = model.config.vocabSize;
      idx.forEach((i, b) => {
        const c = cases[Math.floor(i / 2)]!;
        const at = (b * len + len - 1) * v;
        const m = logits.data[at + c.answer]! - logits.data[at + c.wrong]!;
        const want = i % 2 === 0 ? c.metric.clean : c.metric.corrupt;
        expect(Math.abs(m - want)).toBeLessThan(1e-4 * Math.max(Math.abs(c.metric.clean), Math.abs(c.metric.corrupt)));
      });
    }
  });

  it('∂M/∂hook at every reference hook from one backward pass matches to 1e-4', async () => {
    const model = fixture.model();
    const c = fixture.cases()[0]!;
    const grads = ref.names.filter((n) => n.startsWith('grad.')).map((n) => n.slice(5));
    const cot = logitDifferenceCotangent(1, c.tokens.length, model.config.vocabSize, c.answer, c.wrong);
    const out = await model.gradients(c.tokens, grads, cot);
    for (const h of grads) {
      expect(out.gradients.get(h)!.shape, h).toEqual(ref.get(`grad.${h}`).shape);
      expect(relErr(out.gradients.get(h)!.data, ref.get(`grad.${h}`).data), h).toBeLessThan(1e-4);
      expect(relErr(out.cache.get(h)!.data, ref.get(h).data), h).toBeLessThan(1e-4);
    }
  });

  it('a patched hook changes what follows it and nothing before it', async () => {
    const model = fixture.model();
    const c = fixture.cases()[0]!;
    const hook = 'blocks.1.hook_mlp_out';
    const corrupt = await model.runWithCache(c.corrupt_tokens, [hook]);
    // patching a hook with its own corrupt value on the corrupt run reproduces the corrupt logits,
    // and patching every position of the last resid with the clean one gives the clean logits
    const self = await model.run(c.corrupt_tokens, { patches: { [hook]: corrupt.cache.get(hook)!.data } });
    const plain = await model.run(c.corrupt_tokens);
    expect(relErr(self.data, plain.data)).toBeLessThan(1e-6);
    const last = `blocks.${model.config.nLayers - 1}.hook_resid_post`;
    const clean = await model.runWithCache(c.tokens, [last, 'blocks.0.hook_resid_post']);
    const swapped = await model.runWithCache(c.corrupt_tokens, ['blocks.0.hook_resid_post'], { patches: { [last]: clean.cache.get(last)!.data } });
    expect(relErr(swapped.logits.data, clean.logits.data)).toBeLessThan(1e-6);
    expect(relErr(swapped.cache.get('blocks.0.hook_resid_post')!.data, clean.cache.get('blocks.0.hook_resid_post')!.data)).toBeGreaterThan(1e-3);
  });

  it('lastPosition: the last row of the logits, the same gradients; a hook fed from the clean run needs nothing upstream', async () => {
    const model = fixture.model();
    const c = fixture.cases()[0]!;
    const [T, V] = [c.tokens.length, model.config.vocabSize];
    const hooks = ['blocks.0.attn.hook_z', `blocks.${model.config.nLayers - 1}.hook_mlp_out`];
    const full = await model.gradients(c.tokens, hooks, logitDifferenceCotangent(1, T, V, c.answer, c.wrong));
    const last = await model.gradients(c.tokens, hooks, logitDifferenceCotangent(1, 1, V, c.answer, c.wrong), { lastPosition: true });
    expect(last.logits.shape).toEqual([1, 1, V]);
    expect(relErr(last.logits.data, full.logits.data.subarray((T - 1) * V))).toBeLessThan(1e-6);
    for (const h of hooks) expect(relErr(last.gradients.get(h)!.data, full.gradients.get(h)!.data), h).toBeLessThan(1e-5);
    const batch = await model.run([c.tokens, c.corrupt_tokens], { lastPosition: true });
    const both = await model.run([c.tokens, c.corrupt_tokens]);
    for (const b of [0, 1]) expect(relErr(batch.data.subarray(b * V, (b + 1) * V), both.data.subarray((b * T + T - 1) * V, (b + 1) * T * V))).toBeLessThan(1e-6);
    // feeding blocks.1.hook_resid_pre (pruned prefix) reproduces the run
    const pre = 'blocks.1.hook_resid_pre';
    const cached = await model.runWithCache(c.tokens, [pre]);
    const fed = await model.run(c.tokens, { patches: { [pre]: cached.cache.get(pre)!.data }, lastPosition: true });
    expect(relErr(fed.data, batch.data.subarray(0, V))).toBeLessThan(1e-6);
    await expect(model.gradients(c.tokens, hooks, logitDifferenceCotangent(1, T, V, c.answer, c.wrong), { lastPosition: true })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'cotangent' } });
  });

  it('maxSessions: least recently used sessions are released, and compiled again when asked again', async () => {
    const c = fixture.cases()[0]!;
    const small = await loadTransformer(fixtureModelDir(name), { sessionOptions: { intraOpNumThreads: 1 }, maxSessions: 2 });
    try {
      const hooks = ['blocks.0.attn.hook_z', 'blocks.1.hook_mlp_out', 'blocks.0.hook_resid_post'];
      const first = await small.runWithCache(c.tokens, [hooks[0]!]);
      for (const h of hooks) {
        const got = await small.runWithCache(c.tokens, [h]);
        const want = await fixture.model().runWithCache(c.tokens, [h]);
        expect(relErr(got.cache.get(h)!.data, want.cache.get(h)!.data), h).toBeLessThan(1e-6);
        expect(small.sessionCount).toBeLessThanOrEqual(2);
      }
      const again = await small.runWithCache(c.tokens, [hooks[0]!]); // released above, compiled again
      expect(relErr(again.logits.data, first.logits.data)).toBeLessThan(1e-6);
      expect(small.sessionCount).toBe(2);
    } finally {
      small.dispose();
    }
  });
});
