import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../../../test/backend.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, loadReferenceModel, reference, relError } from '../../../test/reference.js';
import { linear, residualNet } from '../../../test/reference-models.js';
import type { LayersModelAdapter } from '../../models/tfjs/layers-model.js';
import type { HookedModel } from '../../models/model.js';
import { IntegratedGradients } from '../gradient/integrated-gradients.js';
import { DeepLift, DeepLiftShap } from '../backprop/deeplift.js';
import { LayerDeepLift } from './layer-deeplift.js';
import { Deconvolution, GuidedBackprop } from '../backprop/guided-backprop.js';
import { GuidedGradCam } from '../backprop/guided-gradcam.js';
import { GradCamPlusPlus, LayerCam, LayerGradCam } from './cam.js';
import { InternalInfluence } from './internal-influence.js';
import { LayerActivation } from './layer-activation.js';
import { LayerConductance } from './layer-conductance.js';
import { LayerGradientXActivation } from './layer-gradient-x-activation.js';
import { LayerIntegratedGradients } from './layer-integrated-gradients.js';
import { NeuronConductance, NeuronGradient, NeuronIntegratedGradients } from './neuron.js';

const rowSums = async (t: tf.Tensor) => {
  const s = tf.sum(tf.reshape(t, [t.shape[0]!, -1]), 1);
  const d = Array.from(await s.data());
  s.dispose();
  return d;
};

describe.each(BACKENDS)('layer methods on a residual CNN with BatchNorm (%s)', (backend) => {
  let net: LayersModelAdapter;
  let x: tf.Tensor;
  let headW: number[][];
  const target = [0, 1, 2, 1];
  beforeAll(async () => {
    await useBackend(backend);
    net = residualNet();
    x = tf.tidy(() => tf.randomUniform([4, 8, 8, 2], -1, 1, 'float32', 5));
    headW = (await (net.model.getLayer('head').getWeights()[0] as tf.Tensor).array()) as number[][];
  });
  afterAll(() => {
    net.dispose();
    x.dispose();
  });

  it('GradCAM on relu_b equals the hand-computed map Σ_c (W_ct / 64) · A_c', async () => {
    const acts = await net.activation(x, 'relu_b');
    const a = (await acts.array()) as number[][][][];
    using cam = await new LayerGradCam(net, { layer: 'relu_b' }).attribute(x, { target });
    const got = (await cam.values.array()) as number[][][][];
    expect(cam.values.shape).toEqual([4, 8, 8, 1]);
    for (let i = 0; i < 4; i++)
      for (let h = 0; h < 8; h++)
        for (let w = 0; w < 8; w++) {
          const want = a[i]![h]![w]!.reduce((s, v, c) => s + (headW[c]![target[i]!]! / 64) * v, 0);
          expect(got[i]![h]![w]![0]).toBeCloseTo(want, 5);
        }
    acts.dispose();
  });

  it('GradCAM upsamples to the input (nearest and bilinear) and applies ReLU when asked', async () => {
    using near = await new LayerGradCam(net, { layer: 'relu_b' }).attribute(x, { target, upsample: 'nearest', relu: true });
    expect(near.values.shape).toEqual([4, 8, 8, 1]);
    expect(Math.min(...(await near.values.data()))).toBeGreaterThanOrEqual(0);
    const small = residualNet();
    const up = tf.tidy(() => tf.image.resizeBilinear(x as tf.Tensor4D, [8, 8]));
    using bil = await new LayerGradCam(small, { layer: 'relu_b' }).attribute(up, { target, upsample: 'bilinear' });
    expect(bil.values.shape).toEqual([4, 8, 8, 1]);
    up.dispose();
    small.dispose();
  });

  it('GradCAM++ and LayerCAM give non-negative maps of the layer’s spatial shape', async () => {
    for (const M of [GradCamPlusPlus, LayerCam]) {
      using r = await new M(net, { layer: 'conv_b' }).attribute(x, { target });
      expect(r.values.shape).toEqual([4, 8, 8, 1]);
      expect(Math.min(...(await r.values.data()))).toBeGreaterThanOrEqual(0);
    }
  });

  it('gradient × activation and internal influence at gap are the head kernel column (× activation)', async () => {
    const acts = (await (await net.activation(x, 'gap')).array()) as number[][];
    using gxa = await new LayerGradientXActivation(net, { layer: 'gap' }).attribute(x, { target });
    using inf = await new InternalInfluence(net, { layer: 'gap' }).attribute(x, { target, steps: 8 });
    const [g, f] = [(await gxa.values.array()) as number[][], (await inf.values.array()) as number[][]];
    for (let i = 0; i < 4; i++)
      for (let c = 0; c < 4; c++) {
        expect(g[i]![c]).toBeCloseTo(acts[i]![c]! * headW[c]![target[i]!]!, 5);
        expect(f[i]![c]).toBeCloseTo(headW[c]![target[i]!]!, 5);
      }
  });

  it('layer conductance summed over a layer’s units equals IG’s total (a layer every path crosses)', async () => {
    using cond = await new LayerConductance(net, { layer: 'relu_b' }).attribute(x, { target, steps: 200, rule: 'trapezoid' });
    using ig = await new IntegratedGradients(net).attribute(x, { target, steps: 200 });
    const [c, t] = [await rowSums(cond.values), await rowSums(ig.values)];
    for (let i = 0; i < 4; i++) expect(Math.abs(c[i]! - t[i]!)).toBeLessThan(0.01 * Math.max(1, Math.abs(t[i]!)));
    expect(Math.max(...Array.from(cond.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(0.01);
  });

  it('layer IG at gap is (A(x) − A(0)) ⊙ the head column (IG of the linear head)', async () => {
    const zero = tf.zerosLike(x);
    const [a, a0] = [(await (await net.activation(x, 'gap')).array()) as number[][], (await (await net.activation(zero, 'gap')).array()) as number[][]];
    using lig = await new LayerIntegratedGradients(net, { layer: 'gap' }).attribute(x, { target, steps: 8 });
    const got = (await lig.values.array()) as number[][];
    for (let i = 0; i < 4; i++) for (let c = 0; c < 4; c++) expect(got[i]![c]).toBeCloseTo((a[i]![c]! - a0[i]![c]!) * headW[c]![target[i]!]!, 5);
    zero.dispose();
  });

  it('layer IG is complete (in the layer’s space, even with a bypassing branch)', async () => {
    for (const layer of ['gap', 'conv_b', 'bn']) {
      using r = await new LayerIntegratedGradients(net, { layer }).attribute(x, { target, steps: 64 });
      expect(r.values.shape).toEqual([4, ...net.hookShape(layer).slice(1)]);
      expect(Math.max(...Array.from(r.diagnostics.convergenceDelta!, Math.abs)), layer).toBeLessThan(layer === 'gap' ? 1e-4 : 5e-3);
    }
    // the adaptive rule's pilot runs on the layer's view too, and is counted
    const lig = new LayerIntegratedGradients(net, { layer: 'conv_b' });
    using a = await lig.attribute(x, { target, steps: 64, rule: 'adaptive' });
    expect(Math.max(...Array.from(a.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(5e-3);
    expect(a.diagnostics.evaluations).toBe(lig.cost(x.shape, { steps: 64, rule: 'adaptive' }));
  });

  it('DeepLIFT is exactly complete on a ReLU network (conv, BatchNorm, residual add, ReLU layers)', async () => {
    using dl = await new DeepLift(net).attribute(x, { target });
    expect(Math.max(...Array.from(dl.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-4);
  });

  it('layer DeepLIFT at gap is (A(x) − A(0)) ⊙ the head column, and is complete from any layer', async () => {
    const zero = tf.zerosLike(x);
    const [a, a0] = [(await (await net.activation(x, 'gap')).array()) as number[][], (await (await net.activation(zero, 'gap')).array()) as number[][]];
    using dl = await new LayerDeepLift(net, { layer: 'gap' }).attribute(x, { target });
    const got = (await dl.values.array()) as number[][];
    for (let i = 0; i < 4; i++) for (let c = 0; c < 4; c++) expect(got[i]![c]).toBeCloseTo((a[i]![c]! - a0[i]![c]!) * headW[c]![target[i]!]!, 5);
    for (const layer of ['relu_a', 'bn', 'add']) {
      using r = await new LayerDeepLift(net, { layer }).attribute(x, { target });
      expect(Math.max(...Array.from(r.diagnostics.convergenceDelta!, Math.abs)), layer).toBeLessThan(1e-4);
    }
    zero.dispose();
  });

  it('DeepLiftShap averages DeepLIFT over a baseline distribution and is complete against its mean', async () => {
    const one = tf.tidy(() => tf.fill([1, 8, 8, 2], 0.1));
    using a = await new DeepLiftShap(net).attribute(x, { target, baselines: one });
    using b = await new DeepLift(net).attribute(x, { target, baselines: one });
    expect(Array.from(await a.values.data()).map((v) => +v.toFixed(5))).toEqual(Array.from(await b.values.data()).map((v) => +v.toFixed(5)));
    const dist = tf.tidy(() => tf.randomUniform([5, 8, 8, 2], -1, 1, 'float32', 8));
    using c = await new DeepLiftShap(net).attribute(x, { target, baselines: dist, batchSize: 7 });
    expect(Math.max(...Array.from(c.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-4);
    expect(c.diagnostics.evaluations).toBe(3 * 4 * 5 + 4);
    await expect(new DeepLiftShap(net).attribute(x, { target })).rejects.toThrow(/distribution of baselines/);
    tf.dispose([one, dist]);
  });

  it('neuron IG is complete for the neuron; neuron gradient is the cut model’s gradient', async () => {
    const neuron = [3, 4, 1];
    using nig = await new NeuronIntegratedGradients(net, { layer: 'relu_b' }).attribute(x, { neuron, steps: 128, rule: 'trapezoid' });
    const acts = await net.activation(x, 'relu_b');
    const at = (await acts.array()) as number[][][][];
    const sums = await rowSums(nig.values);
    const zero = tf.zerosLike(x);
    const a0 = (await (await net.activation(zero, 'relu_b')).array()) as number[][][][];
    for (let i = 0; i < 4; i++) {
      const want = at[i]![3]![4]![1]! - a0[i]![3]![4]![1]!;
      expect(Math.abs(sums[i]! - want)).toBeLessThan(0.01 * Math.max(1, Math.abs(want)));
    }
    using ng = await new NeuronGradient(net, { layer: 'relu_b' }).attribute(x, { neuron: 3 * 32 + 4 * 4 + 1 });
    expect(ng.values.shape).toEqual(x.shape);
    tf.dispose([acts, zero]);
  });

  it('neuron conductance summed over a layer’s neurons is Integrated Gradients (same quadrature)', async () => {
    using ig = await new IntegratedGradients(net).attribute(x, { target, steps: 16, rule: 'riemann-middle' });
    let sum = tf.zerosLike(x);
    for (let j = 0; j < 4; j++) {
      using nc = await new NeuronConductance(net, { layer: 'gap' }).attribute(x, { target, neuron: j, steps: 16, rule: 'riemann-middle' });
      const next = tf.add(sum, nc.values);
      sum.dispose();
      sum = next;
    }
    expect(await relError(sum, Array.from(await ig.values.data()), ig.values.shape)).toBeLessThan(1e-4);
    sum.dispose();
  });

  it('leaves no tensor behind (every layer and modified-backprop method)', async () => {
    const background = tf.zeros([2, 8, 8, 2]);
    const make: [string, () => Promise<{ dispose(): void }>][] = [
      ['activation', () => new LayerActivation(net, { layer: 'add' }).attribute(x)],
      ['gxa', () => new LayerGradientXActivation(net, { layer: 'add' }).attribute(x, { target: 'auto' })],
      ['lig', () => new LayerIntegratedGradients(net, { layer: 'add' }).attribute(x, { target, steps: 4, batchSize: 3 })],
      ['cond', () => new LayerConductance(net, { layer: 'add' }).attribute(x, { target, steps: 4, batchSize: 3 })],
      ['infl', () => new InternalInfluence(net, { layer: 'add' }).attribute(x, { target, steps: 4, batchSize: 3 })],
      ['gradcam', () => new LayerGradCam(net, { layer: 'add' }).attribute(x, { target, upsample: 'bilinear' })],
      ['gradcam++', () => new GradCamPlusPlus(net, { layer: 'add' }).attribute(x, { target })],
      ['layercam', () => new LayerCam(net, { layer: 'add' }).attribute(x, { target })],
      ['ng', () => new NeuronGradient(net, { layer: 'add' }).attribute(x, { neuron: 5 })],
      ['nig', () => new NeuronIntegratedGradients(net, { layer: 'add' }).attribute(x, { neuron: 5, steps: 4 })],
      ['nc', () => new NeuronConductance(net, { layer: 'add' }).attribute(x, { target, neuron: 5, steps: 4, batchSize: 3 })],
      ['gb', () => new GuidedBackprop(net).attribute(x, { target })],
      ['deconv', () => new Deconvolution(net).attribute(x, { target })],
      ['ggc', () => new GuidedGradCam(net, { layer: 'relu_b' }).attribute(x, { target: 'auto' })],
      ['deeplift', () => new DeepLift(net).attribute(x, { target, batchSize: 3 })],
      ['layer-deeplift', () => new LayerDeepLift(net, { layer: 'relu_a' }).attribute(x, { target, batchSize: 3 })],
      ['deeplift-shap', () => new DeepLiftShap(net).attribute(x, { target, baselines: background, batchSize: 3 })],
    ];
    for (const [, m] of make) {
      await m().then((r) => r.dispose()); // warm-up: kernels and lazily created state
      await expectNoLeak(async () => (await m()).dispose());
    }
    background.dispose();
  });

  it('rejects bad input with typed errors', async () => {
    expect(() => new LayerGradCam(net, { layer: 'conv9' })).toThrow(expect.objectContaining({ code: 'unknown_hook' }));
    expect(() => new LayerGradCam(net, { layer: 'head' })).toThrow(/spatial dims.*'head'.*\[\*, 3\]/);
    expect(() => new LayerIntegratedGradients(net, {} as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    await expect(new NeuronGradient(net, { layer: 'gap' }).attribute(x, { neuron: [7] })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(new NeuronGradient(net, { layer: 'gap' }).attribute(x, { neuron: [1, 2] })).rejects.toThrow(/shape \[4\]/);
    expect(() => new GuidedBackprop(linear([1, 2]) as unknown as HookedModel)).toThrow(expect.objectContaining({ code: 'capability_missing' }));
    await expect(new LayerIntegratedGradients(net, { layer: 'gap' }).attribute(x, { target, steps: 10, maxEvaluations: 20 })).rejects.toMatchObject({ code: 'budget_exceeded' });
    await expect(new LayerGradCam(net, { layer: 'add' }).attribute(x, { target: [9, 9, 9, 9] })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('DeepLIFT on the reference MLP', () => {
  it('is complete to float precision (Captum: 7.6e-6)', async () => {
    await useBackend('cpu');
    const model = (await loadReferenceModel('tabular_mlp')) as unknown as HookedModel;
    const x = examples('tabular_mlp');
    using dl = await new DeepLift(model).attribute(x, { target: reference('tabular_mlp').targets });
    expect(Math.max(...Array.from(dl.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(2e-5);
    x.dispose();
    model.dispose();
  });
});
