// Component attribution on the two reference transformers: activation patching (whole slices and per
// position), AtP, direct logit attribution and the logit lens against the float64 reference scores.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { ROOT } from '../../test/reference.js';
import { loadTransformer } from '../io/load-transformer.js';
import type { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import { activationPatching } from './activation-patching.js';
import { attributionPatching } from './attribution-patching.js';
import { directLogitAttribution, logitLens } from './logit-attribution.js';
import type { NodeAttribution } from './node-attribution.js';
import type { ComponentOptions, NodeScore } from './nodes.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'transformers');

interface RefCase {
  readonly name: string;
  readonly tokens: number[];
  readonly corrupt_tokens: number[];
  readonly answer: number;
  readonly wrong: number;
  readonly metric: { readonly clean: number; readonly corrupt: number };
  readonly methods: Record<string, { readonly nodes: NodeScore[]; readonly unembed_bias_term?: number; readonly final_norm_scale?: number }>;
}

const key = (n: { hook: string; head: number | null; position: number | null }) => `${n.hook}|${n.head}|${n.position}`;

/** max |ours − reference| / max |reference| over the nodes, after matching them by (hook, head, position). */
function relError(result: NodeAttribution, ref: readonly NodeScore[]): number {
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

describe.each(['gpt2_induction', 'llama_induction'])('%s', (name) => {
  let model: HookedTransformer;
  let cases: RefCase[];
  beforeAll(async () => {
    model = await loadTransformer(path.join(FIXTURES, 'models', name), { sessionOptions: { intraOpNumThreads: 1 } });
    cases = (JSON.parse(readFileSync(path.join(FIXTURES, 'reference', `${name}.json`), 'utf8')) as { cases: RefCase[] }).cases;
  });
  afterAll(() => model.dispose());
  const opts = (c: RefCase, perPosition = false): ComponentOptions => ({ tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong, perPosition });

  it('activation patching, whole slices and per position, matches the reference to 1e-4 on every case', async () => {
    const before = tf.memory().numTensors;
    for (const c of cases) {
      for (const [method, perPosition] of [['activation-patching', false], ['activation-patching-per-position', true]] as const) {
        const r = await activationPatching(model, opts(c, perPosition));
        expect(relError(r, c.methods[method]!.nodes), `${c.name} ${method}`).toBeLessThan(1e-4);
        expect(Math.abs(r.metric.clean - c.metric.clean)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
        expect(Math.abs(r.metric.corrupt! - c.metric.corrupt)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
        expect(r.diagnostics.evaluations).toBe(r.nodes.length + 2);
        r.dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('AtP, whole slices and per position, matches the reference to 1e-4; per-position scores sum to the slice score', async () => {
    for (const c of cases) {
      const whole = await attributionPatching(model, opts(c));
      const per = await attributionPatching(model, opts(c, true));
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
    for (const c of cases) {
      const dla = await directLogitAttribution(model, opts(c));
      const ref = c.methods['direct-logit-attribution']!;
      expect(relError(dla, ref.nodes), c.name).toBeLessThan(1e-4);
      expect(Math.abs(dla.extra.unembedBiasTerm! - ref.unembed_bias_term!)).toBeLessThan(1e-4);
      expect(Math.abs(dla.extra.finalNormScale! - ref.final_norm_scale!)).toBeLessThan(1e-4);
      const total = dla.nodes.reduce((a, n) => a + n.score, 0);
      expect(Math.abs(total + dla.extra.unembedBiasTerm! - dla.metric.clean)).toBeLessThan(1e-3);
      const lens = await logitLens(model, opts(c));
      expect(relError(lens, c.methods['logit-lens']!.nodes), c.name).toBeLessThan(1e-4);
      expect(Math.abs(lens.nodes.at(-1)!.score - c.metric.clean)).toBeLessThan(1e-4 * Math.abs(c.metric.clean));
      dla.dispose();
      lens.dispose();
    }
  });

  it('bad input: answer out of range, corrupt tokens of another length, unknown node kind', async () => {
    const c = cases[0]!;
    await expect(attributionPatching(model, { ...opts(c), answer: 96 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'answer', value: 96 } });
    await expect(activationPatching(model, { ...opts(c), corruptTokens: [1, 2] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'corruptTokens' } });
    await expect(activationPatching(model, { ...opts(c), nodes: ['attn' as 'z'] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'nodes' } });
    await expect(directLogitAttribution(model, { ...opts(c), wrong: -1 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'wrong' } });
  });
});
