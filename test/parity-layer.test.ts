// Captum parity of the layer, CAM and modified-backpropagation methods (test/fixtures/reference), on cpu and wasm.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from './backend.js';
import { examples, loadReferenceModel, reference, relError, type RefModel } from './reference.js';
import type { HookedModel } from '../src/models/model.js';
import { LayerIntegratedGradients } from '../src/attr/layer/layer-integrated-gradients.js';
import { LayerGradCam } from '../src/attr/layer/cam.js';
import { GuidedBackprop } from '../src/attr/backprop/guided-backprop.js';
import { DeepLift } from '../src/attr/backprop/deeplift.js';

const TOL = 1e-4;
const ligRules = [
  ['layer_integrated_gradients_riemann_middle', 'riemann-middle'],
  ['layer_integrated_gradients_gausslegendre', 'gauss-legendre'],
  ['layer_integrated_gradients_riemann_trapezoid', 'trapezoid-captum'],
] as const;

describe.each(BACKENDS)('Captum parity of layer methods on %s', (backend) => {
  const models = new Map<RefModel, HookedModel>();
  const inputs = new Map<RefModel, tf.Tensor>();
  beforeAll(async () => {
    await useBackend(backend);
    for (const m of ['tabular_mlp', 'image_cnn', 'text_cnn'] as const) {
      models.set(m, (await loadReferenceModel(m)) as unknown as HookedModel);
      inputs.set(m, examples(m));
    }
  });
  afterAll(() => {
    for (const m of models.values()) m.dispose();
    for (const x of inputs.values()) x.dispose();
  });
  const get = (m: RefModel) => ({ model: models.get(m)!, x: inputs.get(m)!, target: reference(m).targets });

  it.each(ligRules)('text: layer integrated gradients on the embedding, %s (per dim, summed, convergence delta)', async (key, rule) => {
    const { model, x, target } = get('text_cnn');
    const ref = reference('text_cnn').methods[key]!;
    const attr = await new LayerIntegratedGradients(model, { layer: 'embedding' }).attribute(x, { target, steps: 50, rule });
    expect(attr.values.shape).toEqual([8, 12, 16]);
    expect(attr.layer).toBe('embedding');
    expect(await relError(attr.values, ref.attributions_per_dim!)).toBeLessThan(TOL);
    const summed = tf.sum(attr.values, -1);
    expect(await relError(summed, ref.attributions)).toBeLessThan(TOL);
    summed.dispose();
    const delta = ref.convergence_delta!.data;
    const scale = Math.max(...delta.map(Math.abs), 1);
    attr.diagnostics.convergenceDelta!.forEach((d, i) => expect(Math.abs(d - delta[i]!) / scale).toBeLessThan(1e-3));
    attr.dispose();
  });

  it('image: GradCAM on conv2 (no ReLU, no upsampling)', async () => {
    const { model, x, target } = get('image_cnn');
    const attr = await new LayerGradCam(model, { layer: 'conv2' }).attribute(x, { target });
    expect(await relError(attr.values, reference('image_cnn').methods['layer_gradcam']!.attributions)).toBeLessThan(TOL);
    attr.dispose();
  });
});

describe.each(BACKENDS)('Captum parity of modified back-propagation on %s', (backend) => {
  const models = new Map<RefModel, HookedModel>();
  const inputs = new Map<RefModel, tf.Tensor>();
  beforeAll(async () => {
    await useBackend(backend);
    for (const m of ['tabular_mlp', 'image_cnn'] as const) {
      models.set(m, (await loadReferenceModel(m)) as unknown as HookedModel);
      inputs.set(m, examples(m));
    }
  });
  afterAll(() => {
    for (const m of models.values()) m.dispose();
    for (const x of inputs.values()) x.dispose();
  });

  it.each(['tabular_mlp', 'image_cnn'] as const)('%s: guided backprop and DeepLIFT (rescale, Captum’s MaxPool behaviour)', async (name) => {
    const model = models.get(name)!;
    const x = inputs.get(name)!;
    const target = reference(name).targets;
    const gb = await new GuidedBackprop(model).attribute(x, { target });
    expect(await relError(gb.values, reference(name).methods['guided_backprop']!.attributions)).toBeLessThan(TOL);
    gb.dispose();
    const dl = await new DeepLift(model).attribute(x, { target });
    const ref = reference(name).methods['deeplift']!;
    expect(await relError(dl.values, ref.attributions)).toBeLessThan(TOL);
    const delta = ref.convergence_delta!.data;
    const scale = Math.max(...delta.map(Math.abs), 1);
    dl.diagnostics.convergenceDelta!.forEach((d, i) => expect(Math.abs(d - delta[i]!) / scale).toBeLessThan(1e-3));
    // DeepLIFT's own max-pool rule closes the gap that Captum's (shadowed) behaviour leaves
    const exact = await new DeepLift(model, { maxPool: 'exact' }).attribute(x, { target });
    const gap = Math.max(...Array.from(exact.diagnostics.convergenceDelta!, Math.abs));
    const away = await relError(exact.values, ref.attributions);
    console.log(`${backend} ${name} deeplift exact max-pool: gap ${gap.toExponential(2)}, Captum gap ${Math.max(...delta.map(Math.abs)).toExponential(2)}, distance from Captum ${away.toExponential(2)}`);
    expect(gap).toBeLessThan(1e-4);
    exact.dispose();
    dl.dispose();
  });
});
