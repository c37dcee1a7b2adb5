import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataModel, wine } from '../../test/data-reference.js';
import { Rng } from '../core/random.js';
import { gradientMatrix } from './gradients.js';
import { Magic, trainFullBatch } from './magic.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { retrainedLds, topKRemoval, trainerRetrain, type Retrain } from './retraining.js';

const M = 6;
const test = { x: { shape: [M, 13], data: wine.test.x.data.slice(0, M * 13) }, y: { shape: [M], data: wine.test.y.data.slice(0, M) } };

describe('judging scores by retraining with attrib’s trainer', () => {
  it('trainerRetrain is the trainer with w = keep; retrainedLds draws seeded α-subsets and ranks MAGIC above random scores', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const recipe = { steps: 15, learningRate: 0.5, l2: 0.01, init: new Float64Array(model.parameterCount) };
    const retrain = trainerRetrain(model, wine.train, test, recipe);
    const keep = Float64Array.from({ length: 128 }, (_, j) => (j % 3 === 0 ? 0 : 1));
    const { theta } = await trainFullBatch(model, wine.train, { ...recipe, weights: keep });
    const want = (await gradientMatrix(model, test, 'cross-entropy', { theta })).value;
    expect(Array.from(await retrain(keep))).toEqual(Array.from(want));
    expect(Array.from(await retrain(keep))).not.toEqual(Array.from(await retrain(new Float64Array(128).fill(1))));
    using magic = await new Magic(model, recipe).attribute(wine.train, test);
    const scores = magic.values.dataSync();
    const a = await retrainedLds(scores, M, 128, retrain, { alpha: 0.9, subsets: 12, seed: 4 });
    const b = await retrainedLds(scores, M, 128, retrain, { alpha: 0.9, subsets: 12, seed: 4 });
    expect(Array.from(b.subsets)).toEqual(Array.from(a.subsets));
    for (let s = 0; s < 12; s++) expect(a.subsets.subarray(s * 128, (s + 1) * 128).reduce((x, y) => x + y, 0)).toBe(115); // round(0.9 · 128)
    expect(a.lds).toBeGreaterThan(0.9);
    const rng = new Rng(1);
    const noise = Float32Array.from(scores, () => rng.normal());
    expect((await retrainedLds(noise, M, 128, retrain, { alpha: 0.9, subsets: 12, seed: 4 })).lds).toBeLessThan(0.5);
  });

  it('top-k removal: removing the top proponents raises the loss more than removing the top opponents', async () => {
    // a retrain stub: test loss i rises by the sum of the weights of the removed examples it depends on
    const n = 20;
    const dep = (i: number, j: number) => (j % 4 === i ? 1 : 0) * (1 + j / n);
    const retrain: Retrain = async (keep) => Float64Array.from({ length: 4 }, (_, i) => Array.from(keep).reduce((s, w, j) => s + (1 - w) * dep(i, j), 0));
    const good = Float32Array.from({ length: 4 * n }, (_, q) => dep(Math.floor(q / n), q % n));
    const bad = good.map((v) => -v);
    const g = await topKRemoval(good, 4, n, retrain, 3);
    const b = await topKRemoval(bad, 4, n, retrain, 3);
    expect(g.meanRise).toBeGreaterThan(2);
    expect(b.meanRise).toBe(0);
    await expect(topKRemoval(good, 4, n, retrain, n)).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'k' } });
    await expect(retrainedLds(good, 4, n, retrain, { alpha: 1 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'alpha' } });
  });
});
