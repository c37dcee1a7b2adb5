import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { expectNoLeak } from '../../test/leak-check.js';
import { linear } from '../../test/reference-models.js';
import { fromFunction } from '../models/tfjs/function-model.js';
import { complexity, sparseness } from './complexity.js';
import { muFidelity } from './mufidelity.js';
import { roadCurve } from './road.js';

beforeAll(() => useBackend('cpu'));

describe('MuFidelity', () => {
  it('is 1 for the exact attribution of a linear model, lower for a random one', async () => {
    const w = [2, -1, 0.5, 3, -2, 1];
    const model = linear(w);
    const x = tf.tensor2d([
      [1, 2, 3, 4, 5, 6],
      [-1, 0.5, 2, -3, 1, 0],
    ]);
    const exact = tf.mul(x, tf.tensor1d(w)); // F(x) − F(x_S = 0) = Σ_S w ⊙ x
    const noise = tf.randomNormal([2, 6], 0, 1, 'float32', 5);
    const a = await muFidelity(model, x, exact, { target: 0, samples: 64, seed: 1 });
    const b = await muFidelity(model, x, noise, { target: 0, samples: 64, seed: 1 });
    for (const v of a) expect(v).toBeCloseTo(1, 6);
    for (let i = 0; i < 2; i++) expect(b[i]!).toBeLessThan(a[i]! - 0.2);
    await expectNoLeak(async () => void (await muFidelity(model, x, exact, { target: 0, samples: 8, batchSize: 3 })));
    await expect(muFidelity(model, x, exact, { target: 0, subsetFraction: 1 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(muFidelity(model, x, tf.zeros([2, 5]), { target: 0 })).rejects.toMatchObject({ code: 'shape_mismatch' });
    tf.dispose([x, exact, noise]);
  });
});

describe('sparseness and complexity', () => {
  it('have their closed forms on one-hot and uniform attributions', async () => {
    const t = tf.tensor2d([
      [0, 0, 0, 5],
      [1, 1, 1, 1],
    ]);
    const [s, c] = [await sparseness(t), await complexity(t)];
    expect(s[0]).toBeCloseTo(3 / 4, 10);
    expect(s[1]).toBeCloseTo(0, 10);
    expect(c[0]).toBeCloseTo(0, 10);
    expect(c[1]).toBeCloseTo(Math.log(4), 10);
    t.dispose();
  });
});

describe('ROAD', () => {
  /** Score = mean of rows 4–7 × cols 8–11 of a 16×16×1 image. */
  const region = fromFunction((v) => tf.reshape(tf.mean(tf.slice(v, [0, 4, 8, 0], [-1, 4, 4, 1]), [1, 2, 3]), [-1, 1]), { outputShape: [null, 1] });

  it('imputes a linear ramp exactly (no noise), and ranks a faithful attribution above a random one', async () => {
    const ramp = tf.tensor4d(Float32Array.from({ length: 256 }, (_, p) => 0.1 + 0.002 * (Math.floor(p / 16) * 3 + (p % 16))), [1, 16, 16, 1]);
    // removing any pixels of a linear image and imputing gives the same image: the score stays put
    const random = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 2);
    const flat = await roadCurve(region, ramp, random, { target: 0, noise: 0, sweeps: 400, fractions: [0.2, 0.5] });
    const f0 = (await region.forward(ramp)).dataSync()[0]!;
    for (const v of flat.values[0]!) expect(v).toBeCloseTo(f0, 3);
    // a bright region read by the model: MoRF with the right attribution destroys the score first
    const d = new Float32Array(256).fill(0.2);
    for (let y = 4; y < 8; y++) for (let x = 8; x < 12; x++) d[y * 16 + x] = 1;
    const img = tf.tensor4d(d, [1, 16, 16, 1]);
    const right = tf.tensor4d(Float32Array.from(d, (v) => (v > 0.5 ? 1 : 0)), [1, 16, 16, 1]);
    const good = await roadCurve(region, img, right, { target: 0, seed: 1 });
    const bad = await roadCurve(region, img, random, { target: 0, seed: 1 });
    expect(good.auc[0]!).toBeLessThan(bad.auc[0]! - 0.2);
    const lerf = await roadCurve(region, img, right, { target: 0, order: 'lerf', seed: 1 });
    expect(lerf.auc[0]!).toBeGreaterThan(good.auc[0]!);
    expect(good.evaluations).toBe(9);
    await expectNoLeak(async () => void (await roadCurve(region, img, right, { target: 0, batchSize: 4 })));
    await expect(roadCurve(region, img, right, { target: 0, fractions: [0.5, 0.2] })).rejects.toMatchObject({ code: 'invalid_argument' });
    const tab = tf.zeros([1, 4]);
    await expect(roadCurve(region, tab, tab, { target: 0 })).rejects.toMatchObject({ code: 'shape_mismatch' });
    tf.dispose([ramp, random, img, right, tab]);
  });
});
