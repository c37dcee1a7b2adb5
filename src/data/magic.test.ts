import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataModel, dataNpy, wine } from '../../test/data-reference.js';
import { Rng } from '../core/random.js';
import { linearDatamodelingScore } from './evaluation.js';
import { gradientMatrix } from './gradients.js';
import { Magic, trainFullBatch } from './magic.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

const M = 8;
const test = { x: { shape: [M, 13], data: wine.test.x.data.slice(0, M * 13) }, y: { shape: [M], data: wine.test.y.data.slice(0, M) } };

describe('MAGIC on the wine MLP trained by attrib’s full-batch trainer', () => {
  it('equals the derivative of retrained test losses in the data weights, and predicts subset retraining (LDS)', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    const rng = new Rng(8);
    const init = Float64Array.from({ length: model.parameterCount }, () => rng.normal() * 0.3);
    const recipe = { steps: 40, learningRate: 0.5, l2: 0.001, init };
    using r = await new Magic(model, recipe).attribute(wine.train, test);
    const scores = r.values.dataSync();
    const n = 128;
    const lossesAfter = async (weights: Float64Array) => {
      const { theta } = await trainFullBatch(model, wine.train, { ...recipe, weights });
      return (await gradientMatrix(model, test, 'cross-entropy', { theta })).value;
    };
    // −dℓ_i/dw_j by central differences of the retrained losses
    for (const j of [3, 77]) {
      const up = new Float64Array(n).fill(1);
      up[j] = 1 + 1e-3;
      const down = new Float64Array(n).fill(1);
      down[j] = 1 - 1e-3;
      const [lu, ld] = [await lossesAfter(up), await lossesAfter(down)];
      for (let i = 0; i < M; i++) {
        const want = -(lu[i]! - ld[i]!) / 2e-3;
        expect(Math.abs(scores[i * n + j]! - want)).toBeLessThan(1e-4 * Math.max(1e-3, Math.abs(want)) + 1e-6);
      }
    }
    // LDS against retraining on the first 20 reference subsets by the same trainer
    const subsets = dataNpy('reference/lds-subsets.npy').data.slice(0, 20 * n);
    const losses = new Float64Array(20 * M);
    for (let s = 0; s < 20; s++) losses.set(await lossesAfter(Float64Array.from({ length: n }, (_, j) => subsets[s * n + j]!)), s * M);
    const { lds } = linearDatamodelingScore(scores, M, n, subsets, losses);
    console.log(`MAGIC LDS on ${M} test examples, 20 subsets: ${lds.toFixed(3)}`);
    expect(lds).toBeGreaterThan(0.8);
  });

  it('checkpointed replay (recomputing the iterates between checkpoints) gives the same scores as keeping every iterate', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const recipe = { steps: 10, learningRate: 0.3, l2: 0.01 };
    using all = await new Magic(model, { ...recipe, checkpoints: 10 }).attribute(wine.train, test);
    using few = await new Magic(model, { ...recipe, checkpoints: 3 }).attribute(wine.train, test);
    expect(Array.from(few.values.dataSync())).toEqual(Array.from(all.values.dataSync()));
    await expect(new Magic(model, { steps: 0, learningRate: 0.1 }).attribute(wine.train, test)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
