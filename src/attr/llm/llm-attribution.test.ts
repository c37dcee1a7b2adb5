// Attribution of a response's log-probability to prompt tokens on the induction fixtures.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { TRANSFORMER_MODELS, useTransformerFixture } from '../../../test/transformers.js';
import { embeddingIntegratedGradients } from './embedding-ig.js';
import { attributeResponse } from './llm-attribution.js';
import { generateGreedy, responseLogProbs } from './response-logprob.js';

const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0);
const argmax = (a: ArrayLike<number>): number => Array.from(a).reduce((b, v, i, all) => (v > all[b]! ? i : b), 0);

describe.each(TRANSFORMER_MODELS)('LLM attribution on %s', (name) => {
  const fx = useTransformerFixture(name);
  beforeAll(() => useBackend('cpu'));
  // case 0 (kind A): [BOS] r_1..r_n r_1..r_k → r_{k+1}, whose earlier copy is at changed_position
  const input = (): { prompt: number[]; response: number[] } => {
    const c = fx.cases()[0]!;
    return { prompt: c.tokens, response: c.tokens.slice(c.changed_position, c.changed_position + 3) };
  };
  // the last prompt token stays (it is the induction query); ablated tokens become token 1
  const lastFixed = (prompt: readonly number[]): number[] => prompt.map((_, i) => (i === prompt.length - 1 ? -1 : i));

  it('greedy generation continues the repeat (the induction behaviour)', async () => {
    const { prompt, response } = input();
    expect(await generateGreedy(fx.model(), prompt, { maxNewTokens: 3 })).toEqual(response);
  });

  it('feature ablation of a segment equals the log-prob drop computed directly; per-token rows sum to the total', async () => {
    const { prompt, response } = input();
    const model = fx.model();
    const segments = prompt.map((_, i) => (i < 4 ? 0 : i < 8 ? 1 : i < 12 ? 2 : 3));
    const before = tf.memory().numTensors;
    const r = await attributeResponse(model, 'feature-ablation', { prompt, response, segments, baselineToken: 1 }, { perToken: true });
    const v = r.attribution.values.arraySync() as number[][];
    r.attribution.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const full = sum(await responseLogProbs(model, prompt, response));
    expect(sum(r.responseLogProbs)).toBeCloseTo(full, 6);
    for (let s = 0; s < 4; s++) {
      const ablated = prompt.map((t, i) => (segments[i] === s ? 1 : t));
      const direct = full - sum(await responseLogProbs(model, ablated, response));
      expect(v[0]![s]).toBeCloseTo(direct, 3);
      expect(v[1]![s]! + v[2]![s]! + v[3]![s]!).toBeCloseTo(v[0]![s]!, 3);
    }
  });

  it('the earlier copy of the answer token gets the top score (feature ablation, kind-A cases)', async () => {
    for (const c of fx.cases().filter((k) => k.kind === 'A')) {
      const r = await attributeResponse(fx.model(), 'feature-ablation', { prompt: c.tokens, response: [c.answer], segments: lastFixed(c.tokens), baselineToken: 1 });
      const v = r.attribution.values.dataSync();
      r.attribution.dispose();
      expect(argmax(v)).toBe(c.changed_position);
    }
  });

  it('Shapley value sampling is efficient: Σ = full − empty', async () => {
    const { prompt, response } = input();
    const model = fx.model();
    const segments = prompt.map((_, i) => Math.floor(i / 2));
    const r = await attributeResponse(model, 'shapley-value-sampling', { prompt, response, segments }, { samples: 3, seed: 7 });
    const total = sum(r.attribution.values.dataSync());
    r.attribution.dispose();
    const empty = sum(await responseLogProbs(model, prompt.map(() => 0), response));
    expect(total).toBeCloseTo(sum(r.responseLogProbs) - empty, 3);
  });

  it('KernelSHAP (all coalitions) is efficient and LIME runs over segments', async () => {
    const { prompt, response } = input();
    const model = fx.model();
    const segments = prompt.map((_, i) => Math.floor(i / 4));
    const k = await attributeResponse(model, 'kernel-shap', { prompt, response, segments }, { samples: 100, seed: 1 });
    const empty = sum(await responseLogProbs(model, prompt.map(() => 0), response));
    expect(sum(k.attribution.values.dataSync())).toBeCloseTo(sum(k.responseLogProbs) - empty, 2);
    const top = argmax(k.attribution.values.dataSync());
    k.attribution.dispose();
    const l = await attributeResponse(model, 'lime', { prompt, response, segments }, { samples: 40, seed: 1 });
    expect(l.attribution.values.shape).toEqual([1, 4]);
    expect(argmax(l.attribution.values.dataSync())).toBe(top);
    l.attribution.dispose();
  });

  it('layer IG on hook_embed is complete (small gap) and ranks the earlier copy first (kind-A cases)', async () => {
    for (const c of fx.cases().filter((k) => k.kind === 'A')) {
      const before = tf.memory().numTensors;
      const r = await embeddingIntegratedGradients(fx.model(), { prompt: c.tokens, response: [c.answer], segments: lastFixed(c.tokens), baselineToken: 1 }, { perToken: true });
      const v = r.attribution.values.arraySync() as number[][];
      const gap = r.attribution.diagnostics.convergenceDelta!;
      r.attribution.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(Math.abs(gap[0]!)).toBeLessThan(0.02 * Math.abs(sum(v[0]!)));
      expect(v[1]).toEqual(v[0]); // one response token: its row is the total
      expect(argmax(v[0]!)).toBe(c.changed_position);
    }
  });

  it('refuses an empty prompt, ids out of vocabulary and a response past the last position', async () => {
    const model = fx.model();
    const V = model.config.vocabSize;
    await expect(attributeResponse(model, 'feature-ablation', { prompt: [], response: [1] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'prompt' } });
    await expect(attributeResponse(model, 'feature-ablation', { prompt: [0, V], response: [1] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'prompt', position: 1 } });
    await expect(embeddingIntegratedGradients(model, { prompt: [0, 1], response: [-1] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'response' } });
    const long = Array.from({ length: model.config.maxPositions }, () => 1);
    await expect(attributeResponse(model, 'lime', { prompt: [0, 1], response: long })).rejects.toMatchObject({ code: 'invalid_argument', details: { field: 'n_positions' } });
    await expect(attributeResponse(model, 'feature-ablation', { prompt: [0, 1], response: [1], segments: [0, 2] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'segments' } });
  });
});
