// Evaluation metrics on closed-form models.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { expectNoLeak } from '../../test/leak-check.js';
import { linear, smooth } from '../../test/reference-models.js';
import { deletionCurve, insertionCurve } from './deletion.js';
import { infidelity } from './infidelity.js';
import { sensitivityMax } from './sensitivity.js';
import { fromFunction } from '../models/tfjs/function-model.js';
import { groundTruthScores } from './ground-truth.js';
import { IntegratedGradients } from '../attr/gradient/integrated-gradients.js';
import { Saliency } from '../attr/gradient/saliency.js';

beforeAll(() => useBackend('cpu'));

const W = [4, -1, 2, 3];

describe('deletion and insertion', () => {
  it('follow the exact ranking on a linear model (closed form)', async () => {
    await expectNoLeak(async () => {
      const model = linear(W);
      const x = tf.tensor2d([[1, 1, 1, 1]]);
      const attr = tf.tensor2d([W]); // exact contributions w ⊙ x
      const del = await deletionCurve(model, x, attr, { target: 0, steps: 4 });
      // remove features 0, 3, 2, 1 in turn: 8 → 4 → 1 → −1 → 0
      expect(Array.from(del.values[0]!)).toEqual([8, 4, 1, -1, 0]);
      expect(del.auc[0]).toBeCloseTo(2, 10);
      expect(del.evaluations).toBe(5);
      const ins = await insertionCurve(model, x, attr, { target: 0, steps: 4 });
      expect(Array.from(ins.values[0]!)).toEqual([0, 4, 7, 9, 8]);
      expect(ins.auc[0]).toBeCloseTo(6, 10);
      // the reversed ranking deletes worse (higher AUC) and inserts worse (lower AUC)
      const rev = tf.neg(attr);
      expect((await deletionCurve(model, x, rev, { target: 0, steps: 4 })).auc[0]).toBeGreaterThan(del.auc[0]!);
      expect((await insertionCurve(model, x, rev, { target: 0, steps: 4 })).auc[0]).toBeLessThan(ins.auc[0]!);
      tf.dispose([x, attr, rev]);
    });
  });

  it('rejects an attribution of another shape and steps < 1', async () => {
    const x = tf.tensor2d([[1, 1, 1, 1]]);
    const bad = tf.tensor2d([[1, 1, 1]]);
    await expect(deletionCurve(linear(W), x, bad, { target: 0 })).rejects.toMatchObject({ code: 'shape_mismatch', details: { arg: 'attribution' } });
    await expect(deletionCurve(linear(W), x, x, { target: 0, steps: 0 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'steps' } });
    tf.dispose([x, bad]);
  });
});

describe('infidelity', () => {
  it('is 0 for exact explanations of a linear model (gradients, and IG with multiplyByInputs)', async () => {
    await expectNoLeak(async () => {
      const model = linear(W);
      const x = tf.tensor2d([
        [1, 2, -1, 0.5],
        [0.3, -0.2, 2, 1],
      ]);
      const grads = tf.tensor2d([W, W]);
      const ig = await new IntegratedGradients(model).attribute(x, { target: 0, steps: 8 });
      for (const v of await infidelity(model, x, grads, { target: 0, samples: 6, noiseStd: 0.1, seed: 1 })) expect(v).toBeLessThan(1e-8);
      for (const v of await infidelity(model, x, ig.values, { target: 0, samples: 6, noiseStd: 0.1, multiplyByInputs: true, seed: 1 })) expect(v).toBeLessThan(1e-8);
      const wrong = tf.tensor2d([
        [1, 1, 1, 1],
        [1, 1, 1, 1],
      ]);
      for (const v of await infidelity(model, x, wrong, { target: 0, samples: 6, noiseStd: 0.1, seed: 1 })) expect(v).toBeGreaterThan(1e-4);
      // normalize: a scaled copy of the exact explanation is as good as the explanation
      const scaled = tf.mul(grads, 3);
      for (const v of await infidelity(model, x, scaled, { target: 0, samples: 6, noiseStd: 0.1, normalize: true, seed: 1 })) expect(v).toBeLessThan(1e-8);
      ig.dispose();
      tf.dispose([x, grads, wrong, scaled]);
    });
  });
});

describe('sensitivity-max', () => {
  it('is 0 for the gradient of a constant-gradient model and positive for a curved one', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[0.5, -1, 0.3, 0.8]]);
      const flat = await sensitivityMax(new Saliency(linear(W)), x, { target: 0, abs: false, radius: 0.1, seed: 2 } as never);
      expect(flat[0]).toBe(0);
      const curved = await sensitivityMax(new Saliency(smooth()), x, { target: 0, abs: false, radius: 0.1, seed: 2 } as never);
      expect(curved[0]).toBeGreaterThan(1e-3);
      x.dispose();
    });
  });

  it('takes a user perturbation (fixed shifts give the closed form ‖2δ‖ / ‖2x‖ for f = Σ x²)', async () => {
    const square = fromFunction((v) => tf.sum(tf.square(v), 1, true), { outputShape: [null, 1] });
    const x = tf.tensor2d([[0.5, -1, 0.3, 0.8]]);
    const shifts = [0.01, 0.05, 0.02];
    const got = await sensitivityMax(new Saliency(square), x, { target: 0, abs: false, perturbations: 3, perturb: (v: tf.Tensor, s: number) => tf.add(v, shifts[s]!) } as never);
    const norm = Math.hypot(0.5, -1, 0.3, 0.8);
    expect(got[0]).toBeCloseTo((0.05 * 2) / norm, 5);
    x.dispose();
  });
});

describe('ground truth', () => {
  it('precision, recall, AUROC and mass against a known relevant set', async () => {
    const attr = tf.tensor2d([
      [3, 0.1, -2, 0.2],
      [0.1, 3, 0.2, -2],
    ]);
    const s = await groundTruthScores(attr, [1, 0, 1, 0, 1, 0, 1, 0]);
    expect(Array.from(s.precisionAtK)).toEqual([1, 0]);
    expect(Array.from(s.recallAtK)).toEqual([1, 0]);
    expect(Array.from(s.auroc)).toEqual([1, 0]);
    expect(s.mass[0]).toBeCloseTo(5 / 5.3, 6); // float32 attributions
    attr.dispose();
  });
});
