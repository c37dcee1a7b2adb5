// Bad input gives typed errors that name the argument, before any work and without leaking tensors.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from './backend.js';
import { expectNoLeak } from './leak-check.js';
import { linear, smooth } from './reference-models.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { Occlusion } from '../src/attr/perturbation/occlusion.js';
import { FeatureAblation } from '../src/attr/perturbation/feature-ablation.js';
import { ShapleyValues } from '../src/attr/perturbation/shapley.js';
import { FeaturePermutation } from '../src/attr/perturbation/feature-permutation.js';
import { findMethod } from '../src/methods.js';
import { fromBatchFunction } from '../src/models/batch-function.js';
import { loadReferenceModel } from './reference.js';
import type { AttributionError } from '../src/core/errors.js';

beforeAll(() => useBackend('cpu'));

async function expectCode(p: Promise<unknown>, code: string, details: Record<string, unknown> = {}): Promise<AttributionError> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as AttributionError;
  expect(err, 'expected a rejection').toBeDefined();
  expect(err.name).not.toBe('Error');
  expect(err.code).toBe(code);
  expect(err.details).toMatchObject(details);
  return err;
}

describe('bad input', () => {
  const ig = new IntegratedGradients(smooth());

  it('wrong rank: a single row without the batch dim', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor1d([1, 2, 3, 4]);
      await expectCode(ig.attribute(x, { target: 0 }), 'shape_mismatch', { arg: 'x' });
      x.dispose();
    });
  });

  it('model input shape mismatch is reported by the layers adapter (see models tests) and targets out of range here', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      await expectCode(ig.attribute(x, { target: 7 }), 'invalid_argument', { arg: 'target', value: 7, outputs: 2 });
      await expectCode(ig.attribute(x, { target: [0, 1] }), 'shape_mismatch', { arg: 'target' });
      await expectCode(ig.attribute(x, { target: -1 }), 'invalid_argument', { arg: 'target' });
      await expectCode(ig.attribute(x, {} as never), 'invalid_argument', { arg: 'target' });
      x.dispose();
    });
  });

  it('NaN and Infinity in inputs', async () => {
    await expectNoLeak(async () => {
      for (const bad of [NaN, Infinity]) {
        const x = tf.tensor2d([[1, bad, 3, 4]]);
        await expectCode(ig.attribute(x, { target: 0 }), 'invalid_argument', { arg: 'x', index: 1 });
        x.dispose();
      }
    });
  });

  it('baseline that does not broadcast', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      const b = tf.tensor1d([1, 2, 3]);
      await expectCode(ig.attribute(x, { target: 0, baselines: b }), 'shape_mismatch', { arg: 'baselines' });
      b.dispose();
      x.dispose();
    });
  });

  it('steps < 1, unknown rule, bad batch size, bad budget', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      await expectCode(ig.attribute(x, { target: 0, steps: 0 }), 'invalid_argument', { arg: 'steps' });
      await expectCode(ig.attribute(x, { target: 0, rule: 'simpson' as never }), 'invalid_argument', { arg: 'rule' });
      await expectCode(ig.attribute(x, { target: 0, batchSize: 0 }), 'invalid_argument', { arg: 'batchSize' });
      await expectCode(ig.attribute(x, { target: 0, maxEvaluations: 1.5 }), 'invalid_argument', { arg: 'maxEvaluations' });
      x.dispose();
    });
  });

  it('a budget smaller than the cost throws before any model call', async () => {
    let calls = 0;
    const model = smooth();
    const counting = { ...model, gradients: (x: tf.Tensor, o: never) => (calls++, model.gradients(x, o)), forward: (x: tf.Tensor) => (calls++, model.forward(x)) };
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const err = await expectCode(new IntegratedGradients(counting).attribute(x, { target: 0, steps: 50, maxEvaluations: 10 }), 'budget_exceeded', { needed: 52, maxEvaluations: 10 });
    expect(err.message).toMatch(/maxEvaluations/);
    expect(calls).toBe(0);
    x.dispose();
  });

  it('gradient methods refuse a forward-only model, at construction', () => {
    const blackBox = fromBatchFunction(async (b) => Array.from({ length: b.shape[0]! }, () => [1]));
    expect(() => new Saliency(blackBox as never)).toThrowError(expect.objectContaining({ code: 'capability_missing' }));
    expect(() => findMethod('integrated-gradients').create(blackBox)).toThrowError(expect.objectContaining({ code: 'capability_missing' }));
  });

  it('a TF.js model that takes token ids is refused by gradient methods at construction, with the reason', async () => {
    const text = await loadReferenceModel('text_cnn');
    expect(text.capabilities.gradients).toBe(false);
    expect(() => new Saliency(text)).toThrowError(expect.objectContaining({ code: 'capability_missing', details: expect.objectContaining({ reason: expect.stringMatching(/Embedding layer 'embedding'/) }) }));
    text.dispose();
  });

  it('unknown method', () => {
    expect(() => findMethod('deep-magic')).toThrowError(expect.objectContaining({ code: 'unknown_method' }));
  });

  it('occlusion windows: wrong length, too large', async () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    await expectCode(new Occlusion(smooth()).attribute(x, { target: 0, window: [1, 1] }), 'invalid_argument', { arg: 'window' });
    await expectCode(new Occlusion(smooth()).attribute(x, { target: 0, window: [5] }), 'invalid_argument', { arg: 'window' });
    await expectCode(new Occlusion(smooth()).attribute(x, { target: 0, window: [2], strides: [0] }), 'invalid_argument', { arg: 'strides' });
    x.dispose();
  });

  it('feature masks: wrong shape, too many features for exact Shapley, permutation on one row', async () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    await expectCode(new FeatureAblation(smooth()).attribute(x, { target: 0, featureMask: [0, 1, 2] }), 'shape_mismatch', { arg: 'featureMask' });
    const wide = tf.zeros([1, 24]);
    await expectCode(new ShapleyValues(linear(new Array(24).fill(1))).attribute(wide, { target: 0 }), 'invalid_argument', { arg: 'featureMask', features: 24 });
    await expectCode(new FeaturePermutation(smooth()).attribute(x, { target: 0 }), 'invalid_argument', { arg: 'x' });
    wide.dispose();
    x.dispose();
  });

  it('a target function must return one scalar per row', async () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    await expectCode(new Saliency(smooth()).attribute(x, { target: (o) => o }), 'shape_mismatch', { arg: 'target' });
    x.dispose();
  });
});
