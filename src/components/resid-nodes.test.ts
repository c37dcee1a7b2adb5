// Per-position residual nodes (blocks.{l}.hook_resid_pre at one position): activation patching against
// hand-patched runs, AtP's invariants, and patching under a small maxCacheBytes (fewer rows per run,
// the same scores).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { fixtureModelDir, useTransformerFixture } from '../../test/transformers.js';
import { loadTransformer } from '../io/load-transformer.js';
import { activationPatching } from './activation-patching.js';
import { atpStar } from './atp-star.js';
import { attributionPatching } from './attribution-patching.js';
import { logitDifferenceMetric } from './metric.js';
import { nodeId, type ComponentOptions } from './nodes.js';

beforeAll(() => useBackend('cpu'));

describe('resid nodes on gpt2_induction', () => {
  const fixture = useTransformerFixture('gpt2_induction');

  it('activation patching of one position of hook_resid_pre equals the hand-patched run; unchanged positions score 0', async () => {
    const model = fixture.model();
    const c = fixture.cases()[0]!;
    const opts: ComponentOptions = { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong, nodes: ['resid'] };
    const before = tf.memory().numTensors;
    const r = await activationPatching(model, opts);
    const [T, L, d] = [c.tokens.length, model.config.nLayers, model.config.dModel];
    expect(r.nodes.length).toBe(L * T);
    expect(r.diagnostics.evaluations).toBe(L * T + 2);
    const metric = logitDifferenceMetric(c.answer, c.wrong);
    const V = model.config.vocabSize;
    const m = (logits: Float32Array) => metric.value(logits, logits.length / V, V);
    const clean = m((await model.run(c.tokens)).data);
    const changed = c.tokens.map((t, p) => t !== c.corrupt_tokens[p]);
    expect(changed.some(Boolean)).toBe(true);
    const scale = Math.max(...r.nodes.map((n) => Math.abs(n.score)));
    expect(scale).toBeGreaterThan(0.1);
    for (const l of [0, L - 1]) {
      const hook = `blocks.${l}.hook_resid_pre`;
      const [x, y] = [(await model.runWithCache(c.tokens, [hook])).cache.get(hook)!.data, (await model.runWithCache(c.corrupt_tokens, [hook])).cache.get(hook)!.data];
      for (const p of [changed.indexOf(true), T - 1]) {
        const patched = x.slice();
        patched.set(y.subarray(p * d, (p + 1) * d), p * d);
        const want = m((await model.run(c.tokens, { patches: { [hook]: patched } })).data) - clean;
        const got = r.nodes.find((n) => n.layer === l && n.position === p)!;
        expect(got.hook).toBe(hook);
        expect(Math.abs(got.score - want) / scale, nodeId(got)).toBeLessThan(1e-5);
      }
    }
    // at layer 0 the stream of a position whose token is unchanged is the same in both runs
    for (const n of r.nodes) if (n.layer === 0 && !changed[n.position!]) expect(n.score).toBe(0);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('AtP scores resid nodes as (corrupt − clean) · ∂M/∂resid, 0 where the stream is unchanged; AtP* refuses them', async () => {
    const model = fixture.model();
    const c = fixture.cases()[0]!;
    const opts: ComponentOptions = { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong, nodes: ['resid', 'z'] };
    const r = await attributionPatching(model, opts);
    const resid = r.nodes.filter((n) => n.hook.endsWith('hook_resid_pre'));
    expect(resid.length).toBe(model.config.nLayers * c.tokens.length);
    for (const n of resid) if (n.layer === 0 && c.tokens[n.position!] === c.corrupt_tokens[n.position!]) expect(n.score).toBe(0);
    expect(resid.some((n) => Math.abs(n.score) > 1e-3)).toBe(true);
    r.dispose();
    await expect(atpStar(model, opts)).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'nodes', value: 'resid' } });
  });

  it('a small maxCacheBytes runs fewer rows per run and gives the same scores; too small for the runs is budget_exceeded', async () => {
    const c = fixture.cases()[1]!;
    const opts: ComponentOptions = { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong, nodes: ['z', 'mlp'], perPosition: true };
    const full = await activationPatching(fixture.model(), opts);
    const T = c.tokens.length;
    const { dModel: d, nHeads: h, dHead: dh, vocabSize: V } = fixture.model().config;
    const L = fixture.model().config.nLayers;
    // one patched row: the fed stream, the masked z and mlp_out, the last position's logits; the
    // budget also holds the first call (clean and corrupt rows with z, mlp_out and resid_pre of every layer)
    const row = 4 * T * d + 5 * T * h * dh + 5 * T * d + 4 * V;
    const first = 2 * 4 * (V + L * (T * h * dh + 2 * T * d));
    const budget = Math.max(first, 2 * row) + 100;
    const perRun = Math.floor(budget / row);
    expect(perRun).toBeLessThan((h + 1) * T); // fewer than a layer's nodes
    const small = await loadTransformer(fixtureModelDir('gpt2_induction'), { sessionOptions: { intraOpNumThreads: 1 }, maxCacheBytes: budget });
    try {
      const spy = vi.spyOn(small, 'run');
      const bounded = await activationPatching(small, opts);
      const rows = spy.mock.calls.map(([t]) => (t as readonly unknown[]).length);
      for (let i = 0; i < full.nodes.length; i++) expect(Math.abs(bounded.nodes[i]!.score - full.nodes[i]!.score)).toBeLessThan(1e-5);
      expect(Math.max(...rows)).toBe(perRun);
      expect(rows.reduce((a, b) => a + b, 0)).toBe(full.nodes.length);
      bounded.dispose();
      const tiny = await loadTransformer(fixtureModelDir('gpt2_induction'), { sessionOptions: { intraOpNumThreads: 1 }, maxCacheBytes: row / 2 });
      await expect(activationPatching(tiny, opts)).rejects.toMatchObject({ code: 'budget_exceeded' });
      tiny.dispose();
    } finally {
      small.dispose();
      full.dispose();
    }
  });
});
