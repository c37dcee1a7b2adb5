import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataExamples, dataModel, dataNpy, wine, wineLds, wineLoo } from '../../test/data-reference.js';
import { auroc } from './evaluation.js';
import { InfluenceFunctions } from './influence.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

const { train, test } = wine;

describe('InfluenceFunctions on the wine reference (README figures)', () => {
  it('logistic regression: exact influence vs leave-one-out Pearson 0.921, LDS 0.888', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const before = tf.memory().numTensors;
    using result = await new InfluenceFunctions(model, { l2: 0.01 }).attribute(train, test);
    expect(result.values.shape).toEqual([50, 128]);
    const scores = result.values.dataSync();
    const loo = wineLoo(scores);
    expect(Math.abs(loo.pearson - 0.921)).toBeLessThan(0.03);
    expect(Math.abs(loo.spearmanPerTest - 0.991)).toBeLessThan(0.03);
    const lds = { lds: wineLds(scores, 'lr') };
    expect(Math.abs(lds.lds - 0.888)).toBeLessThan(0.03);
    result.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('conjugate gradients and LiSSA agree with the exact solve', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const few = { x: { shape: [3, 13], data: test.x.data.slice(0, 39) }, y: { shape: [3], data: test.y.data.slice(0, 3) } };
    using exact = await new InfluenceFunctions(model, { l2: 0.01 }).attribute(train, few);
    using cg = await new InfluenceFunctions(model, { l2: 0.01, hessian: 'cg', cgTolerance: 1e-8 }).attribute(train, few);
    using lissa = await new InfluenceFunctions(model, { l2: 0.01, hessian: 'lissa' }).attribute(train, few);
    const a = exact.values.dataSync();
    const scale = Math.max(...Array.from(a, Math.abs));
    for (const other of [cg, lissa]) {
      const b = other.values.dataSync();
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!)).toBeLessThan(1e-4 * scale);
    }
  });

  it('LiSSA on seeded minibatches: the same seed gives the same scores, another seed others', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const one = { x: { shape: [1, 13], data: test.x.data.slice(0, 13) }, y: { shape: [1], data: test.y.data.slice(0, 1) } };
    const run = async (seed: number) => {
      using r = await new InfluenceFunctions(model, { l2: 0.01, hessian: 'lissa', lissa: { batchSize: 16, depth: 30, scale: 20 } }).attribute(train, one, { seed });
      return Array.from(r.values.dataSync());
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
  });

  it('MLP: influence with the exact Hessian reaches LDS 0.746', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    using result = await new InfluenceFunctions(model, { l2: 0.001 }).attribute(train, test);
    const lds = { lds: wineLds(result.values.dataSync(), 'mlp') };
    expect(Math.abs(lds.lds - 0.746)).toBeLessThan(0.03);
  }, 60_000);

  it('self-influence finds the flipped labels (AUROC ≥ 0.95; README 0.984)', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr-mislabel'));
    const self = await new InfluenceFunctions(model, { l2: 0.01 }).selfInfluence(dataExamples('train-mislabel'));
    expect(Math.min(...self)).toBeGreaterThan(0);
    const a = auroc(self, dataNpy('reference/mislabel-flipped.npy').data);
    expect(a).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(a - 0.984)).toBeLessThan(0.03);
  });
});
