import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataModel, wine, wineLds } from '../../test/data-reference.js';
import { GradientSimilarity } from './grad-similarity.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { TracIn } from './tracin.js';
import { Trak } from './trak.js';

const { train, test } = wine;
const mlpLds = (scores: ArrayLike<number>) => wineLds(scores, 'mlp');

describe('TRAK, TracIn and gradient similarity on the wine MLP (README figures)', () => {
  it('TRAK without projection: LDS 0.421 with the nλ ridge, 0.384 without', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    using ridge = await new Trak(model, { l2: 0.001 }).attribute(train, test);
    expect(Math.abs(mlpLds(ridge.values.dataSync()) - 0.421)).toBeLessThan(0.03);
    using plain = await new Trak(model).attribute(train, test);
    expect(Math.abs(mlpLds(plain.values.dataSync()) - 0.384)).toBeLessThan(0.03);
  });

  it('TRAK with a seeded projection is reproducible, and an ensemble of one model twice equals that model', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    const opts = { l2: 0.001, projectionDim: 64, seed: 3 };
    using a = await new Trak(model, opts).attribute(train, test);
    using b = await new Trak(model, opts).attribute(train, test);
    expect(Array.from(a.values.dataSync())).toEqual(Array.from(b.values.dataSync()));
    using c = await new Trak(model, { ...opts, seed: 4 }).attribute(train, test);
    expect(Array.from(c.values.dataSync())).not.toEqual(Array.from(a.values.dataSync()));
    expect(mlpLds(a.values.dataSync())).toBeGreaterThan(0.2);
    // unprojected, an ensemble of the same model twice is that model
    using single = await new Trak(model, { l2: 0.001 }).attribute(train, test);
    using twice = await new Trak([model, model], { l2: 0.001 }).attribute(train, test);
    const [s1, s2] = [single.values.dataSync(), twice.values.dataSync()];
    for (let k = 0; k < s1.length; k += 7) expect(s2[k]!).toBeCloseTo(s1[k]!, 6);
  });

  it('TracIn over two checkpoints is the η-weighted sum of their gradient dot products', async () => {
    using lr = await OnnxTrainingModel.load(dataModel('lr'));
    using flipped = await OnnxTrainingModel.load(dataModel('lr-mislabel'));
    using both = await new TracIn([lr, flipped], { learningRates: [0.3, 0.7] }).attribute(train, test);
    using a = await new GradientSimilarity(lr).attribute(train, test);
    using b = await new GradientSimilarity(flipped).attribute(train, test);
    const [t, x, y] = [both.values.dataSync(), a.values.dataSync(), b.values.dataSync()];
    for (let k = 0; k < t.length; k += 11) expect(t[k]!).toBeCloseTo(0.3 * x[k]! + 0.7 * y[k]!, 4);
  });

  it('grad-dot reaches LDS 0.52; TracIn of one checkpoint listed twice (η = 0.5, 1.5) is 2 × grad-dot; grad-cos is bounded by 1', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    using dot = await new GradientSimilarity(model, 'grad-dot').attribute(train, test);
    expect(Math.abs(mlpLds(dot.values.dataSync()) - 0.52)).toBeLessThan(0.03);
    using tracin = await new TracIn([model, model], { learningRates: [0.5, 1.5] }).attribute(train, test);
    const [d, t] = [dot.values.dataSync(), tracin.values.dataSync()];
    for (let k = 0; k < d.length; k += 97) expect(t[k]!).toBeCloseTo(2 * d[k]!, 4);
    using cos = await new GradientSimilarity(model, 'grad-cos').attribute(train, test);
    const cs = cos.values.dataSync();
    expect(Math.max(...Array.from(cs, Math.abs))).toBeLessThanOrEqual(1 + 1e-5);
    for (let k = 0; k < d.length; k += 97) expect(Math.sign(cs[k]!)).toBe(Math.sign(d[k]!));
  });
});
