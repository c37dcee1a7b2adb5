// Metrics other than the logit difference: gradients against finite differences, and the patching
// methods using them (checked against a hand-patched run through the full-replacement path).
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { useTransformerFixture } from '../../test/transformers.js';
import { Rng } from '../core/random.js';
import { activationPatching } from './activation-patching.js';
import { attributionPatching } from './attribution-patching.js';
import { klDivergenceMetric, logitDifferenceMetric, logProbMetric, type ComponentMetric } from './metric.js';

beforeAll(() => useBackend('cpu'));

describe('component metrics', () => {
  it('gradients match central differences of the values (log-prob, KL, logit difference)', () => {
    const rng = new Rng(4);
    const [T, V] = [3, 7];
    const logits = Float32Array.from({ length: T * V }, () => rng.normal() * 2);
    const ref = Float32Array.from({ length: V }, () => rng.normal());
    for (const m of [logProbMetric(2), klDivergenceMetric(ref), logitDifferenceMetric(1, 5)] as ComponentMetric[]) {
      const g = m.gradient(logits, T, V);
      for (let i = 0; i < T * V; i++) {
        const [up, dn] = [Float32Array.from(logits), Float32Array.from(logits)];
        up[i]! += 1e-2;
        dn[i]! -= 1e-2;
        expect(Math.abs((m.value(up, T, V) - m.value(dn, T, V)) / 2e-2 - g[i]!), `${m.name} ${i}`).toBeLessThan(2e-3);
      }
    }
    expect(klDivergenceMetric(ref).value(Float32Array.from([...new Array<number>(V).fill(0), ...ref]), 2, V)).toBeCloseTo(0, 6);
    expect(() => logProbMetric(9).value(logits, T, V)).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'answer' }) }));
  });

  describe('on GPT-2', () => {
    const fixture = useTransformerFixture('gpt2_induction');

    it('activation patching with log p(answer) equals a hand-patched run; AtP with KL to the clean run is 0 at the clean run', async () => {
      const model = fixture.model();
      const c = fixture.cases()[0]!;
      const T = c.tokens.length;
      const metric = logProbMetric(c.answer);
      const r = await activationPatching(model, { tokens: c.tokens, corruptTokens: c.corrupt_tokens, metric, nodes: ['mlp'] });
      const hook = 'blocks.1.hook_mlp_out';
      const corrupt = await model.runWithCache(c.corrupt_tokens, [hook]);
      const [patched, clean] = [await model.run(c.tokens, { patches: { [hook]: corrupt.cache.get(hook)!.data } }), await model.run(c.tokens)];
      const want = metric.value(patched.data, T, 96) - metric.value(clean.data, T, 96);
      expect(Math.abs(r.nodes.find((n) => n.hook === hook)!.score - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
      expect(Math.abs(r.metric.clean - metric.value(clean.data, T, 96))).toBeLessThan(1e-5);
      r.dispose();

      const kl = klDivergenceMetric(clean.data.slice((T - 1) * 96, T * 96));
      const atp = await attributionPatching(model, { tokens: c.tokens, corruptTokens: c.corrupt_tokens, metric: kl });
      expect(atp.diagnostics.evaluations).toBe(3); // the clean forward for the gradient, then corrupt and clean+backward
      expect(Math.abs(atp.metric.clean)).toBeLessThan(1e-5);
      expect(atp.metric.corrupt!).toBeGreaterThan(1);
      for (const n of atp.nodes) expect(Math.abs(n.score)).toBeLessThan(1e-3);
      atp.dispose();
      const ap = await activationPatching(model, { tokens: c.tokens, corruptTokens: c.corrupt_tokens, metric: kl, nodes: ['z'] });
      expect(ap.nodes.every((n) => n.score >= -1e-5)).toBe(true); // KL ≥ 0, and 0 at the clean run
      expect(Math.max(...ap.nodes.map((n) => n.score))).toBeGreaterThan(1e-3);
      ap.dispose();
    });

    it('without a metric, answer and wrong are required', async () => {
      const c = fixture.cases()[0]!;
      await expect(attributionPatching(fixture.model(), { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'wrong' } });
    });
  });
});
