import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { residualNet, smooth } from '../../test/reference-models.js';
import { loadReferenceModel } from '../../test/reference.js';
import { fromBatchFunction } from './batch-function.js';
import { batchOf, hasHookGradients, hasParameterGradients, inputSpecsOf, requireCapability } from './capabilities.js';
import type { InputSpec, ModelAdapter } from './model.js';

beforeAll(() => useBackend('cpu'));

describe('declared model capabilities', () => {
  it('guards read the declaration, not the functions an object has', () => {
    const m = smooth();
    const pretender = Object.assign(Object.create(m) as ModelAdapter, { gradientsAtHooks: () => undefined, parameterGradients: () => undefined });
    expect([hasHookGradients(pretender), hasParameterGradients(pretender)]).toEqual([false, false]);
    const declared: ModelAdapter = { ...m, forward: m.forward, capabilities: { gradients: true, hooks: true, hookGradients: true, parameterGradients: true } };
    expect([hasHookGradients(declared), hasParameterGradients(declared)]).toEqual([true, true]);
    const net = residualNet();
    try {
      expect(hasHookGradients(net)).toBe(false);
      expect(() => requireCapability(net, 'hooks', 'ActivationPatching')).not.toThrow();
    } finally {
      net.dispose();
    }
  });

  it('requireCapability: capability_missing naming the method, model and capability', () => {
    const box = fromBatchFunction(async () => [[0]], { name: 'box' });
    for (const cap of ['gradients', 'hooks', 'hookGradients', 'parameterGradients'] as const) {
      expect(() => requireCapability(box, cap, 'Trak')).toThrowError(expect.objectContaining({ code: 'capability_missing', details: { method: 'Trak', model: 'box', capability: cap } }));
    }
  });

  it('inputs: declared specs (token ids, masks) with their own batch axis, else one float input', () => {
    const m = smooth();
    expect(inputSpecsOf(m)).toEqual([{ name: 'input', dtype: 'float32', role: 'features', shape: m.inputShape, batchAxis: 0 }]);
    const specs: InputSpec[] = [
      { name: 'ids', dtype: 'int32', role: 'token-ids', shape: [null, 7], batchAxis: 0, vocabSize: 50 },
      { name: 'mask', dtype: 'int32', role: 'attention-mask', shape: [7, null], batchAxis: 1 },
    ];
    expect(inputSpecsOf({ ...m, inputSpecs: specs })).toBe(specs);
    const ids = tf.zeros([3, 7], 'int32');
    const mask = tf.ones([7, 3], 'int32');
    const bad = tf.ones([7, 2], 'int32');
    try {
      expect(batchOf({ ids, mask }, specs, 'f')).toBe(3);
      expect(() => batchOf({ ids, mask: bad }, specs, 'f')).toThrowError(expect.objectContaining({ code: 'shape_mismatch', details: expect.objectContaining({ input: 'mask', expected: 3 }) }));
      expect(() => batchOf({ ids }, specs, 'f')).toThrowError(expect.objectContaining({ code: 'shape_mismatch', details: expect.objectContaining({ input: 'mask' }) }));
    } finally {
      tf.dispose([ids, mask, bad]);
    }
  });

  it('the TF.js layers adapter declares a token-id input (int32, batch first) and why it has no input gradient', async () => {
    const text = await loadReferenceModel('text_cnn');
    const image = await loadReferenceModel('image_cnn');
    try {
      const [spec] = inputSpecsOf(text);
      expect(spec).toMatchObject({ dtype: 'int32', role: 'token-ids', batchAxis: 0 });
      expect(spec!.shape).toEqual(text.inputShape);
      expect(text.capabilities.gradients).toBe(false);
      expect(text.gradientsUnavailable).toMatch(/token ids/);
      expect(() => requireCapability(text, 'gradients', 'Saliency')).toThrowError(expect.objectContaining({ code: 'capability_missing' }));
      expect(inputSpecsOf(image)).toEqual([expect.objectContaining({ dtype: 'float32', role: 'features', batchAxis: 0 })]);
      expect(image.gradientsUnavailable).toBeUndefined();
    } finally {
      text.dispose();
      image.dispose();
    }
  });
});
