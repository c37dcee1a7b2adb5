// Parity with Captum 0.8 on the reference models (test/fixtures/reference), on the cpu and wasm backends.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from './backend.js';
import { examples, loadReferenceModel, reference, relError, type RefModel } from './reference.js';
import type { DifferentiableModel } from '../src/models/model.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { InputXGradient } from '../src/attr/gradient/input-x-gradient.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { Occlusion } from '../src/attr/perturbation/occlusion.js';
import { FeatureAblation } from '../src/attr/perturbation/feature-ablation.js';
import { ShapleyValues } from '../src/attr/perturbation/shapley.js';
import { KernelShap } from '../src/attr/perturbation/kernel-shap.js';
import { Lime } from '../src/attr/perturbation/lime.js';
import { gridMask } from '../src/attr/masks.js';
import { pearson } from '../src/core/linalg.js';
import type { FeatureAttribution } from '../src/core/result.js';

const TOL = 1e-4;
const pairs = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
const rules = [
  ['integrated_gradients_riemann_middle', 'riemann-middle'],
  ['integrated_gradients_gausslegendre', 'gauss-legendre'],
  ['integrated_gradients_riemann_trapezoid', 'trapezoid-captum'],
] as const;

async function check(attr: FeatureAttribution, model: RefModel, key: string, tol = TOL): Promise<number> {
  const ref = reference(model).methods[key]!;
  const err = await relError(attr.values, ref.attributions);
  attr.dispose();
  expect(err, `${model} ${key}`).toBeLessThan(tol);
  return err;
}

describe.each(BACKENDS)('Captum parity on %s', (backend) => {
  const models = new Map<RefModel, DifferentiableModel>();
  const inputs = new Map<RefModel, tf.Tensor>();
  beforeAll(async () => {
    await useBackend(backend);
    for (const m of ['tabular_mlp', 'image_cnn', 'text_cnn'] as const) {
      models.set(m, await loadReferenceModel(m));
      inputs.set(m, examples(m));
    }
  });
  afterAll(() => {
    for (const m of models.values()) m.dispose();
    for (const x of inputs.values()) x.dispose();
  });
  const get = (m: RefModel) => ({ model: models.get(m)!, x: inputs.get(m)!, target: reference(m).targets });

  describe.each(['tabular_mlp', 'image_cnn'] as const)('%s', (name) => {
    it('reproduces the PyTorch logits', async () => {
      const { model, x } = get(name);
      const y = await model.forward(x);
      expect(await relError(y, reference(name).logits)).toBeLessThan(1e-5);
      y.dispose();
    });

    it('saliency (abs and signed) and input × gradient', async () => {
      const { model, x, target } = get(name);
      await check(await new Saliency(model).attribute(x, { target }), name, 'saliency_abs');
      await check(await new Saliency(model).attribute(x, { target, abs: false }), name, 'saliency_signed');
      await check(await new InputXGradient(model).attribute(x, { target }), name, 'input_x_gradient');
    });

    it.each(rules)('integrated gradients %s', async (key, rule) => {
      const { model, x, target } = get(name);
      const attr = await new IntegratedGradients(model).attribute(x, { target, steps: 50, rule, batchSize: 100 });
      const delta = reference(name).methods[key]!.convergence_delta!.data;
      const ours = attr.diagnostics.convergenceDelta!;
      const scale = Math.max(...delta.map(Math.abs), 1);
      for (let i = 0; i < delta.length; i++) expect(Math.abs(ours[i]! - delta[i]!) / scale).toBeLessThan(1e-3);
      await check(attr, name, key);
    });

    it('the true trapezoid rule equals Captum’s × n/(n−1) and closes the completeness gap', async () => {
      const { model, x, target } = get(name);
      const attr = await new IntegratedGradients(model).attribute(x, { target, steps: 50, rule: 'trapezoid' });
      const scaled = tf.mul(attr.values, 49 / 50);
      const ref = reference(name).methods['integrated_gradients_riemann_trapezoid']!;
      expect(await relError(scaled, ref.attributions)).toBeLessThan(TOL);
      scaled.dispose();
      const ourGap = Math.max(...Array.from(attr.diagnostics.convergenceDelta!, Math.abs));
      const captumGap = Math.max(...ref.convergence_delta!.data.map(Math.abs));
      expect(ourGap).toBeLessThan(captumGap / 3);
      attr.dispose();
    });
  });

  it('tabular: occlusion, feature ablation (single and grouped), exact Shapley values', async () => {
    const { model, x, target } = get('tabular_mlp');
    await check(await new Occlusion(model).attribute(x, { target, window: [1], strides: [1] }), 'tabular_mlp', 'occlusion_w1');
    await check(await new FeatureAblation(model).attribute(x, { target }), 'tabular_mlp', 'feature_ablation');
    await check(await new FeatureAblation(model).attribute(x, { target, featureMask: pairs }), 'tabular_mlp', 'feature_ablation_groups');
    await check(await new ShapleyValues(model).attribute(x, { target, featureMask: pairs }), 'tabular_mlp', 'shapley_values_exact');
  });

  it('image: occlusion 4×4 stride 4, 8×8 stride 4 (overlapping), block ablation', async () => {
    const { model, x, target } = get('image_cnn');
    await check(await new Occlusion(model).attribute(x, { target, window: [4, 4, 3], strides: [4, 4, 3] }), 'image_cnn', 'occlusion_w4_s4');
    await check(await new Occlusion(model).attribute(x, { target, window: [8, 8, 3], strides: [4, 4, 3] }), 'image_cnn', 'occlusion_w8_s4');
    await check(await new FeatureAblation(model).attribute(x, { target, featureMask: gridMask([32, 32, 3], 8) }), 'image_cnn', 'feature_ablation_blocks8');
  });

  it('text: token ablation (PAD = 0)', async () => {
    const { model, x, target } = get('text_cnn');
    await check(await new FeatureAblation(model).attribute(x, { target }), 'text_cnn', 'feature_ablation_tokens');
  });

  it('tabular: KernelSHAP and LIME at 200 samples agree with exact Shapley values (Pearson r ≥ 0.99)', async () => {
    const { model, x, target } = get('tabular_mlp');
    const exact = reference('tabular_mlp').methods['shapley_values_exact']!.attributions.data;
    for (const method of [new KernelShap(model), new Lime(model)]) {
      const attr = await method.attribute(x, { target, featureMask: pairs, samples: 200, seed: 7 });
      const r = pearson(await attr.values.data(), exact);
      attr.dispose();
      expect(r, method.id).toBeGreaterThanOrEqual(0.99);
    }
  });
});
