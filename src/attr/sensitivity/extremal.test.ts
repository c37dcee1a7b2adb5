import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../../../test/backend.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, reference, referencePath } from '../../../test/reference.js';
import { fromFunction } from '../../models/tfjs/function-model.js';
import { fromOnnx } from '../../models/onnx/node.js';
import { groundTruthScores } from '../../metrics/ground-truth.js';
import { ExtremalPerturbation } from './extremal.js';

/** A 16×16×1 image: 0.2 everywhere, 1.0 on rows 4–7 × cols 8–11; and the mask of that region. */
function scene(): { x: tf.Tensor; relevant: number[] } {
  const d = new Float32Array(256).fill(0.2);
  const relevant = new Array<number>(256).fill(0);
  for (let y = 4; y < 8; y++) for (let x = 8; x < 12; x++) (d[y * 16 + x] = 1), (relevant[y * 16 + x] = 1);
  return { x: tf.tensor4d(d, [1, 16, 16, 1]), relevant };
}

/** Score = mean of the region rows 4–7 × cols 8–11 (differentiable). */
const regionModel = () => fromFunction((v) => tf.reshape(tf.mean(tf.slice(v, [0, 4, 8, 0], [-1, 4, 4, 1]), [1, 2, 3]), [-1, 1]), { name: 'region', outputShape: [null, 1] });

describe.each(BACKENDS)('extremal perturbations on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('the mask of the region’s area covers the region a model reads', async () => {
    const { x, relevant } = scene();
    using attr = await new ExtremalPerturbation(regionModel()).attribute(x, { target: 0, areas: [0.0625], iterations: 150, maskStep: 2, blurSigma: 2 });
    const { mass, auroc } = await groundTruthScores(attr.values, relevant);
    console.log(`${backend}: extremal mask (area 6.25%) on a region-reading model: ${(100 * mass[0]!).toFixed(0)}% of its mass on the region, AUROC ${auroc[0]!.toFixed(3)}`);
    expect(mass[0]!).toBeGreaterThan(0.5);
    expect(auroc[0]!).toBeGreaterThan(0.95);
    expect(attr.diagnostics.evaluations).toBe(150);
    x.dispose();
  });

  it('leaks nothing; rejects bad areas and non-images', async () => {
    const { x } = scene();
    await expectNoLeak(async () => (await new ExtremalPerturbation(regionModel()).attribute(x, { target: 0, areas: [0.1, 0.3], iterations: 3, variant: 'delete' })).dispose());
    await expect(new ExtremalPerturbation(regionModel()).attribute(x, { target: 0, areas: [1.5] })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'areas' } });
    const flat = tf.zeros([1, 4]);
    await expect(new ExtremalPerturbation(regionModel()).attribute(flat, { target: 0 })).rejects.toMatchObject({ code: 'shape_mismatch' });
    await expect(new ExtremalPerturbation(regionModel()).attribute(x, { target: 0, iterations: 100, maxEvaluations: 50 })).rejects.toMatchObject({ code: 'budget_exceeded' });
    tf.dispose([x, flat]);
  });
});

describe('extremal perturbations through ONNX gradients', () => {
  it('finds the class cell of the reference CNN', async () => {
    await useBackend('wasm');
    const model = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
    const x = tf.slice(examples('image_cnn'), 0, 1);
    const t = reference('image_cnn').targets[0]!; // class 0: cell (0, 0)
    using attr = await new ExtremalPerturbation(model as never).attribute(x, { target: [t], areas: [0.0625, 0.125], iterations: 100, seed: 0 });
    const relevant: number[] = [];
    for (let y = 0; y < 32; y++) for (let xx = 0; xx < 32; xx++) for (let c = 0; c < 3; c++) relevant.push(y < 8 && xx < 8 ? 1 : 0);
    const { mass } = await groundTruthScores(attr.values, relevant);
    console.log(`extremal perturbation on image_cnn.onnx (areas 6.25% and 12.5%, 100 steps each): ${(100 * mass[0]!).toFixed(0)}% of the mask on the 8×8 class cell`);
    expect(mass[0]!).toBeGreaterThan(0.3);
    x.dispose();
    model.dispose();
  });
});
