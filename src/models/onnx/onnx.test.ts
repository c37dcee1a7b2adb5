import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { examples, reference, referencePath, relError } from '../../../test/reference.js';
import { fromOnnx } from './node.js';
import { Occlusion } from '../../attr/perturbation/occlusion.js';
import { FeatureAblation } from '../../attr/perturbation/feature-ablation.js';
import { KernelShap } from '../../attr/perturbation/kernel-shap.js';
import { gridMask } from '../../attr/masks.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import type { DifferentiableModel } from '../model.js';

beforeAll(() => useBackend('wasm'));

describe('ONNX Runtime adapter: forward passes', () => {
  it('reproduces the PyTorch logits and Captum occlusion / ablation on the image model', async () => {
    const model = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
    expect(model.outputShape).toEqual([null, 10]);
    const x = examples('image_cnn');
    const ref = reference('image_cnn');
    const y = await model.forward(x);
    expect(await relError(y, ref.logits)).toBeLessThan(1e-5);
    y.dispose();
    const before = tf.memory().numTensors;
    const occ = await new Occlusion(model).attribute(x, { target: ref.targets, window: [4, 4, 3], strides: [4, 4, 3] });
    expect(await relError(occ.values, ref.methods['occlusion_w4_s4']!.attributions)).toBeLessThan(1e-4);
    occ.dispose();
    const abl = await new FeatureAblation(model).attribute(x, { target: ref.targets, featureMask: gridMask([32, 32, 3], 8) });
    expect(await relError(abl.values, ref.methods['feature_ablation_blocks8']!.attributions)).toBeLessThan(1e-4);
    abl.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('feeds int64 token ids to the text model (type from the session metadata)', async () => {
    const model = await fromOnnx(referencePath('text_cnn', 'model.onnx'));
    const x = examples('text_cnn');
    const ref = reference('text_cnn');
    const abl = await new FeatureAblation(model).attribute(x, { target: ref.targets });
    expect(await relError(abl.values, ref.methods['feature_ablation_tokens']!.attributions)).toBeLessThan(1e-4);
    abl.dispose();
    x.dispose();
    model.dispose();
  });

  it('runs sampling methods with target auto', async () => {
    const model = await fromOnnx(referencePath('tabular_mlp', 'model.onnx'));
    const x = examples('tabular_mlp');
    const attr = await new KernelShap(model).attribute(x, { target: 'auto', samples: 50, seed: 1 });
    expect(attr.diagnostics.targets).toEqual(reference('tabular_mlp').targets);
    expect(attr.diagnostics.evaluations).toBe(8 + 8 * 52);
    attr.dispose();
    x.dispose();
    model.dispose();
  });

  it('token-id models are refused by gradient methods, and bad files give invalid_model', async () => {
    const model = await fromOnnx(referencePath('text_cnn', 'model.onnx'));
    expect(() => new Saliency(model as never)).toThrowError(expect.objectContaining({ code: 'capability_missing' }));
    model.dispose();
    await expect(fromOnnx('/nonexistent/model.onnx')).rejects.toMatchObject({ code: 'invalid_model' });
    await expect(fromOnnx(new Uint8Array([1, 2, 3, 4, 5]))).rejects.toMatchObject({ code: 'invalid_model' });
  });
});

describe('ONNX Runtime adapter: gradient sessions', () => {
  it('small runs (one-thread session) and large runs (the default session) give the same gradients, matching Captum', async () => {
    const model = (await fromOnnx(referencePath('image_cnn', 'model.onnx'), { cacheDir: false })) as DifferentiableModel;
    const x = examples('image_cnn'); // 8 rows: the small-run session
    const ref = reference('image_cnn');
    const big = tf.concat([x, x, x]); // 24 rows: the default session
    const before = tf.memory().numTensors;
    const small = await new Saliency(model).attribute(x, { target: ref.targets, abs: false });
    const large = await new Saliency(model).attribute(big, { target: [...ref.targets, ...ref.targets, ...ref.targets], abs: false });
    expect(await relError(small.values, ref.methods['saliency_signed']!.attributions)).toBeLessThan(1e-4);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.slice(large.values, 16, 8), small.values))));
    expect((await diff.data())[0]).toBeLessThan(1e-6);
    diff.dispose();
    small.dispose();
    large.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, big]);
    model.dispose();
  });
});
