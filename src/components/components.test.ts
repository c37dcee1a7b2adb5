// Component attribution on the two reference transformers: activation patching (whole slices and per
// position), AtP, direct logit attribution and the logit lens against the float64 reference scores.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { nodeKey as key, TRANSFORMER_MODELS, useTransformerFixture, type RefCase, type RefNode } from '../../test/transformers.js';
import { activationPatching } from './activation-patching.js';
import { attributionPatching } from './attribution-patching.js';
import { directLogitAttribution, logitLens } from './logit-attribution.js';
import type { NodeAttribution } from './node-attribution.js';
import type { ComponentOptions } from './nodes.js';

/** max |ours − reference| / max |reference| over the nodes, after matching them by (hook, head, position). */
function relError(result: NodeAttribution, ref: readonly RefNode[]): number {
  expect(result.nodes.length).toBe(ref.length);
  const ours = new Map(result.nodes.map((n) => [key(n), n.score]));
  let [num, den] = [0, 0];
  for (const r of ref) {
    const v = ours.get(key(r));
    expect(v, key(r)).toBeDefined();
    num = Math.max(num, Math.abs(v! - r.score));
    den = Math.max(den, Math.abs(r.score));
  }
  return num / (den || 1);
}

beforeAll(() => useBackend('cpu'));

describe.each(TRANSFORMER_MODELS)('%s', (name) => {
  const fixture = useTransformerFixture(name);
  const opts = (c: RefCase, perPosition = false): ComponentOptions => ({ tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong, perPosition });

  it('activation patching, whole slices and per position, matches the reference to 1e-4 on every case', async () => {
    const before = tf.memory().numTensors;
    for (const c of fixture.cases()) {
      for (const [method, perPosition] of [['activation-patching', false], ['activation-patching-per-position', true]] as const) {
        const r = await activationPatching(fixture.model(), opts(c, perPosition));
        expect(relError(r, c.methods[method]!.nodes), `${c.name} ${method}`).toBeLessThan(1e-4);
        expect(Math.abs(r.metric.clean - c.metric.clean)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
        expect(Math.abs(r.metric.corrupt! - c.metric.corrupt)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
        expect(r.diagnostics.evaluations).toBe(r.nodes.length + 2);
        r.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('denoising patches clean values into the corrupt run: the same as noising with the roles swapped', async () => {
    const c = fixture.cases()[2]!;
    const den = await activationPatching(fixture.model(), { ...opts(c), mode: 'denoising' });
    const swapped = await activationPatching(fixture.model(), { ...opts(c), tokens: c.corrupt_tokens, corruptTokens: c.tokens });
    expect(den.metric).toEqual({ clean: swapped.metric.corrupt, corrupt: swapped.metric.clean });
    expect(Math.abs(den.metric.clean - c.metric.clean)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
    const noise = new Map(c.methods['activation-patching']!.nodes.map((n) => [key(n), n.score]));
    let differs = 0;
    den.nodes.forEach((n, i) => {
      expect(n.score).toBe(swapped.nodes[i]!.score);
      if (Math.abs(n.score + noise.get(key(n))!) > 1e-2) differs++; // not simply −(noising)
    });
    expect(differs).toBeGreaterThan(0);
    den.dispose();
    swapped.dispose();
  });

  it('AtP, whole slices and per position, matches the reference to 1e-4; per-position scores sum to the slice score', async () => {
    for (const c of fixture.cases()) {
      const whole = await attributionPatching(fixture.model(), opts(c));
      const per = await attributionPatching(fixture.model(), opts(c, true));
      expect(relError(whole, c.methods.atp!.nodes), c.name).toBeLessThan(1e-4);
      expect(relError(per, c.methods['atp-per-position']!.nodes), c.name).toBeLessThan(1e-4);
      const sums = new Map<string, number>();
      for (const n of per.nodes) sums.set(key({ ...n, position: null }), (sums.get(key({ ...n, position: null })) ?? 0) + n.score);
      for (const n of whole.nodes) expect(Math.abs(sums.get(key(n))! - n.score)).toBeLessThan(1e-4 * Math.max(1, Math.abs(n.score)));
      whole.dispose();
      per.dispose();
    }
  });

  it('direct logit attribution and the logit lens match the reference to 1e-4; DLA sums to M − the unembed bias term', async () => {
    for (const c of fixture.cases()) {
      const dla = await directLogitAttribution(fixture.model(), opts(c));
      const ref = c.methods['direct-logit-attribution']!;
      expect(relError(dla, ref.nodes), c.name).toBeLessThan(1e-4);
      expect(Math.abs(dla.extra.unembedBiasTerm! - ref.unembed_bias_term!)).toBeLessThan(1e-4);
      expect(Math.abs(dla.extra.finalNormScale! - ref.final_norm_scale!)).toBeLessThan(1e-4);
      const total = dla.nodes.reduce((a, n) => a + n.score, 0);
      expect(Math.abs(total + dla.extra.unembedBiasTerm! - dla.metric.clean)).toBeLessThan(1e-3);
      const lens = await logitLens(fixture.model(), opts(c));
      expect(relError(lens, c.methods['logit-lens']!.nodes), c.name).toBeLessThan(1e-4);
      expect(Math.abs(lens.nodes.at(-1)!.score - c.metric.clean)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
      dla.dispose();
      lens.dispose();
    }
  });

  it('bad input: answer out of range, corrupt tokens of another length, unknown node kind, over budget, aborted', async () => {
    const c = fixture.cases()[0]!;
    await expect(attributionPatching(fixture.model(), { ...opts(c), answer: 96 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'answer', value: 96 } });
    await expect(activationPatching(fixture.model(), { ...opts(c), corruptTokens: [1, 2] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'corruptTokens' } });
    await expect(activationPatching(fixture.model(), { ...opts(c), nodes: ['attn' as 'z'] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'nodes' } });
    await expect(directLogitAttribution(fixture.model(), { ...opts(c), wrong: -1 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'wrong' } });
    await expect(activationPatching(fixture.model(), { ...opts(c), maxEvaluations: 10 })).rejects.toMatchObject({ code: 'budget_exceeded', details: { maxEvaluations: 10 } });
    const ac = new AbortController();
    ac.abort();
    await expect(attributionPatching(fixture.model(), { ...opts(c), signal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
  });
});
