import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../../../test/backend.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, loadReferenceModel, reference } from '../../../test/reference.js';
import type { HookedModel } from '../../models/model.js';
import { ScoreCam } from './score-cam.js';

/** Class → (cell row, cell col) of the reference image task's 4×4 grid of 8×8 cells. */
const CELLS: Record<number, [number, number]> = { 0: [0, 0], 1: [0, 3], 2: [3, 0], 3: [3, 3], 4: [1, 1], 5: [1, 2], 6: [2, 1], 7: [2, 2], 8: [0, 1], 9: [3, 2] };

describe.each(BACKENDS)('Score-CAM on %s', (backend) => {
  let model: HookedModel;
  let x: tf.Tensor;
  const target = reference('image_cnn').targets;
  beforeAll(async () => {
    await useBackend(backend);
    model = (await loadReferenceModel('image_cnn')) as unknown as HookedModel;
    x = examples('image_cnn');
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  it('equals the definition computed with plain tensor ops (row 0)', async () => {
    using cam = await new ScoreCam(model, { layer: 'conv2' }).attribute(x, { target, relu: false });
    const x0 = tf.slice(x, 0, 1);
    const a = await model.activation(x0, 'conv2'); // [1, 16, 16, 16]
    const want = tf.tidy(() => {
      const up = tf.image.resizeBilinear(a as tf.Tensor4D, [32, 32], false, true);
      const lo = tf.min(up, [1, 2], true);
      const hi = tf.max(up, [1, 2], true);
      const norm = tf.div(tf.sub(up, lo), tf.sub(hi, lo)); // [1, 32, 32, 16]
      const masked = tf.mul(tf.transpose(norm, [3, 1, 2, 0]), x0); // [16, 32, 32, 1] ⊙ [1, 32, 32, 3]
      return masked;
    });
    const y = await model.forward(want);
    const y0 = await model.forward(tf.zerosLike(x0));
    const t = target[0]!;
    const alpha = tf.tidy(() => tf.sub(tf.slice(y, [0, t], [-1, 1]), tf.slice(y0, [0, t], [1, 1])));
    const map = tf.tidy(() => tf.sum(tf.mul(a, tf.reshape(alpha, [1, 1, 1, 16])), -1, true));
    const got = tf.slice(cam.values, 0, 1);
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, map))).dataSync()[0]! / tf.max(tf.abs(map)).dataSync()[0]!);
    expect(err).toBeLessThan(1e-4);
    tf.dispose([x0, a, want, y, y0, alpha, map, got]);
  });

  it('puts most of the map on the class cell; leaks nothing; rejects layers without 2-D maps', async () => {
    using cam = await new ScoreCam(model, { layer: 'conv2' }).attribute(x, { target });
    const v = (await cam.values.array()) as number[][][][];
    const shares = v.map((img, i) => {
      const [cr, cc] = CELLS[target[i]!]!;
      let on = 0;
      let all = 0;
      img.forEach((r, h) => r.forEach((p, w) => ((all += p[0]!), Math.floor(h / 4) === cr && Math.floor(w / 4) === cc && (on += p[0]!))));
      return on / all;
    });
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    console.log(`score-cam share on the class cell ${mean.toFixed(3)}`);
    expect(mean).toBeGreaterThan(2 / 16); // chance: 1/16 (measured 0.149)
    await expectNoLeak(async () => (await new ScoreCam(model, { layer: 'conv1' }).attribute(x, { target: 'auto', batchSize: 5, upsample: 'nearest' })).dispose());
    expect(() => new ScoreCam(model, { layer: 'fc1' })).toThrow(expect.objectContaining({ code: 'capability_missing' }));
    await expect(new ScoreCam(model, { layer: 'conv2' }).attribute(x, { target, maxEvaluations: 50 })).rejects.toMatchObject({ code: 'budget_exceeded' });
  });
});
