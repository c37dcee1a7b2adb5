import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { regionBlackBox, regionMask } from '../../../test/reference-models.js';
import { examples, reference, referencePath } from '../../../test/reference.js';
import { fromBatchFunction } from '../../models/batch-function.js';
import { fromOnnx } from '../../models/onnx/node.js';
import { groundTruthScores } from '../../metrics/ground-truth.js';
import { Rise, riseMask } from './rise.js';
import { Rng } from '../../core/random.js';

beforeAll(() => useBackend('wasm'));


const share = async (values: tf.Tensor, relevant: number[]) => (await groundTruthScores(values, relevant)).mass[0]!;

describe('RISE', () => {
  it('masks are soft, in [0, 1], and keep about a fraction p of the image', () => {
    const rng = new Rng(1);
    let sum = 0;
    for (let k = 0; k < 200; k++) {
      const m = riseMask(rng, 32, 32, 8, 0.5);
      for (const v of m) expect(v >= 0 && v <= 1).toBe(true);
      sum += m.reduce((a, b) => a + b, 0) / m.length;
    }
    expect(Math.abs(sum / 200 - 0.5)).toBeLessThan(0.05);
  });

  it('finds the one region an async black-box function looks at, reproducibly', async () => {
    // score = mean brightness of rows 8–15 × cols 16–23 (channel 0) of a 32×32×3 image
    const model = regionBlackBox();
    const x = tf.randomUniform([1, 32, 32, 3], 0.2, 1, 'float32', 3);
    const relevant = regionMask(32, 32, 3, 8, 16, 16, 24);
    // measured: 42% of the mass on the region at 600 masks on an 8×8 grid, 55% at 4000 masks on 16×16
    // (less sampling noise and less bilinear spill-over onto neighbouring pixels)
    const opts = { target: 0, samples: 4000, gridSize: 16, seed: 1 };
    const centred = await new Rise(model).attribute(x, { ...opts, center: true });
    const paper = await new Rise(model).attribute(x, opts);
    const again = await new Rise(model).attribute(x, { ...opts, center: true });
    const sCentred = await share(centred.values, relevant);
    const auroc = (await groundTruthScores(paper.values, relevant)).auroc[0]!;
    console.log(`RISE on a region-only black box: centred mass on the region ${(100 * sCentred).toFixed(1)}% (region = 6.25% of the image); paper estimator AUROC ${auroc.toFixed(3)}`);
    expect(sCentred).toBeGreaterThan(0.5);
    expect(auroc).toBeGreaterThan(0.95);
    expect(Array.from(await again.values.data())).toEqual(Array.from(await centred.values.data()));
    tf.dispose([x, centred.values, paper.values, again.values]);
  });

  it('explains the reference CNN through ONNX Runtime: the class cell stands out', async () => {
    const model = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
    const cells: Record<number, [number, number]> = { 0: [0, 0], 1: [0, 3], 2: [3, 0], 3: [3, 3], 4: [1, 1], 5: [1, 2], 6: [2, 1], 7: [2, 2] };
    const all = examples('image_cnn');
    const ref = reference('image_cnn');
    const shares: number[] = [];
    for (const i of [0, 3, 5]) {
      const x = tf.slice(all, i, 1);
      const attr = await new Rise(model).attribute(x, { target: [ref.targets[i]!], samples: 500, gridSize: 4, seed: 2, center: true });
      const [r, c] = cells[ref.targets[i]!]!;
      shares.push(await share(attr.values, regionMask(32, 32, 3, r * 8, r * 8 + 8, c * 8, c * 8 + 8)));
      attr.dispose();
      x.dispose();
    }
    console.log(`RISE on image_cnn.onnx: mass on the class cell ${shares.map((s) => `${(100 * s).toFixed(0)}%`).join(', ')} (cell = 6.25% of the image)`);
    for (const s of shares) expect(s).toBeGreaterThan(0.25);
    all.dispose();
    model.dispose();
  });

  it('rejects non-image inputs and a keep probability outside (0, 1]', async () => {
    const model = fromBatchFunction(async ({ shape }) => Array.from({ length: shape[0]! }, () => [0]));
    const flat = tf.zeros([1, 8]);
    await expect(new Rise(model).attribute(flat, { target: 0 })).rejects.toMatchObject({ code: 'shape_mismatch' });
    const img = tf.zeros([1, 4, 4, 1]);
    await expect(new Rise(model).attribute(img, { target: 0, keepProbability: 0 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'keepProbability' } });
    tf.dispose([flat, img]);
  });
});
