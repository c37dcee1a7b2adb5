import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { examples, reference, referencePath, relError } from '../../../test/reference.js';
import { isHooked, type HookedModel } from '../model.js';
import { LayerGradCam } from '../../attr/layer/cam.js';
import { LayerIntegratedGradients } from '../../attr/layer/layer-integrated-gradients.js';
import { GuidedBackprop } from '../../attr/backprop/guided-backprop.js';
import { fromOnnx } from './node.js';

describe('hook points of ONNX models (graph surgery)', () => {
  let cnn: HookedModel;
  let text: HookedModel;
  let images: tf.Tensor;
  let ids: tf.Tensor;
  beforeAll(async () => {
    await useBackend('wasm');
    cnn = (await fromOnnx(referencePath('image_cnn', 'model.onnx'))) as unknown as HookedModel;
    text = (await fromOnnx(referencePath('text_cnn', 'model.onnx'))) as unknown as HookedModel;
    images = examples('image_cnn');
    ids = examples('text_cnn');
  });
  afterAll(() => {
    cnn.dispose();
    text.dispose();
    tf.dispose([images, ids]);
  });

  it('names the graph’s tensors, with shapes from one probe run', () => {
    expect(isHooked(cnn)).toBe(true);
    expect(cnn.hookNames).toContain('/m/relu2/Relu_output_0');
    expect(cnn.hookShape('/m/relu2/Relu_output_0')).toEqual([null, 16, 16, 16]);
    expect(cnn.hookClass('/m/relu2/Relu_output_0')).toBe('Relu');
    expect(text.hookShape('/embedding/Gather_output_0')).toEqual([null, 12, 16]);
  });

  it('caches activations, and patching a tensor with its own value leaves the output unchanged', async () => {
    const { output, cache } = await cnn.runWithCache(images, ['/m/relu2/Relu_output_0', '/m/fc1/Gemm_output_0']);
    expect(await relError(output, reference('image_cnn').logits)).toBeLessThan(1e-5);
    const act = cache.get('/m/fc1/Gemm_output_0');
    const patched = await cnn.run(images, { patches: { '/m/fc1/Gemm_output_0': act } });
    expect(await relError(patched, Array.from(await output.data()), output.shape)).toBeLessThan(1e-6);
    const zeroed = await cnn.run(images, { hooks: { '/m/relu3/Relu_output_0': (a) => tf.zerosLike(a) } });
    // with fc1's ReLU output zeroed, the logits are fc2's bias for every image
    const z = (await zeroed.array()) as number[][];
    for (const row of z) expect(row).toEqual(z[0]);
    tf.dispose([output, patched, zeroed]);
    cache.dispose();
  });

  it('GradCAM on conv2 (channels first inside the export) matches Captum', async () => {
    using cam = await new LayerGradCam(cnn, { layer: '/m/relu2/Relu_output_0' }).attribute(images, { target: reference('image_cnn').targets, channelsFirst: true });
    const err = await relError(cam.values, reference('image_cnn').methods['layer_gradcam']!.attributions);
    console.log(`ONNX GradCAM parity: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  });

  it('layer IG on the embedding output of the ONNX text model matches Captum', async () => {
    using lig = await new LayerIntegratedGradients(text, { layer: '/embedding/Gather_output_0' }).attribute(ids, {
      target: reference('text_cnn').targets,
      steps: 50,
      rule: 'gauss-legendre',
    });
    const ref = reference('text_cnn').methods['layer_integrated_gradients_gausslegendre']!;
    expect(await relError(lig.values, ref.attributions_per_dim!)).toBeLessThan(1e-4);
  });

  it('refuses rules and unknown tensors with typed errors', () => {
    expect(() => new GuidedBackprop(cnn)).toThrow(/ONNX model.*TF\.js layers model/);
    expect(() => cnn.atLayer('/nope')).toThrow(expect.objectContaining({ code: 'unknown_hook' }));
  });
});
