// Multi-input models: the attributed input varies, the others (here a mask) are held fixed per row.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { fromLayersModel } from './layers-model.js';
import { IntegratedGradients } from '../../attr/gradient/integrated-gradients.js';
import { NoiseTunnel } from '../../attr/gradient/noise-tunnel.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import { GradientShap } from '../../attr/gradient/gradient-shap.js';
import { FeatureAblation } from '../../attr/perturbation/feature-ablation.js';
import { KernelShap } from '../../attr/perturbation/kernel-shap.js';

beforeAll(() => useBackend('wasm'));

const W = [1, -2, 3, 0.5];

/** y = (x ⊙ mask) · W, as a functional model with inputs 'x' and 'mask'. */
function maskedLinear() {
  const x = tfl.input({ shape: [4], name: 'x' });
  const mask = tfl.input({ shape: [4], name: 'mask' });
  const prod = tfl.layers.multiply({ name: 'gate' }).apply([x, mask]) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ units: 1, useBias: false, name: 'out', weights: [tf.tensor2d(W, [4, 1])] }).apply(prod) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [x, mask], outputs: y });
}

const X = [
  [1, 2, 3, 4],
  [-1, 0.5, 2, 1],
];
const MASK = [
  [1, 1, 0, 1],
  [0, 1, 1, 1],
];
const expected = X.map((row, r) => row.map((v, i) => v * MASK[r]![i]! * W[i]!));

describe('multi-input layers model', () => {
  it('attributes the named input with the others fixed per row (gradient and perturbation methods)', async () => {
    const model = fromLayersModel(maskedLinear());
    expect(model.inputNames).toEqual(['x', 'mask']);
    const x = tf.tensor2d(X);
    const mask = tf.tensor2d(MASK);
    const before = tf.memory().numTensors;
    for (const [method, opts] of [
      [new IntegratedGradients(model), { steps: 4 }],
      [new FeatureAblation(model), {}],
      [new KernelShap(model), { samples: 100 }],
    ] as const) {
      const attr = await method.attribute(x, { target: 0, inputs: { mask }, batchSize: 3, ...opts });
      const got = (await attr.values.array()) as number[][];
      got.forEach((row, r) => row.forEach((v, i) => expect(v, `${method.id} [${r}][${i}]`).toBeCloseTo(expected[r]![i]!, 4)));
      attr.dispose();
    }
    // NoiseTunnel tiles the fixed inputs with the noisy copies; GradientSHAP evaluates F(b) per row
    const nt = await new NoiseTunnel(new Saliency(model), model).attribute(x, { target: 0, inputs: { mask }, samples: 3, stdevs: 0.5, abs: false });
    expect((await nt.values.array()) as number[][]).toEqual(MASK.map((m) => m.map((v, i) => v * W[i]!)));
    nt.dispose();
    const gs = await new GradientShap(model).attribute(x, { target: 0, inputs: { mask }, samples: 16, seed: 2 });
    expect(Math.max(...Array.from(gs.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-4);
    gs.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, mask]);
  });

  it('can attribute the second input instead, and says which input is missing or misshapen', async () => {
    const model = fromLayersModel(maskedLinear(), { input: 'mask' });
    expect(model.inputNames).toEqual(['mask', 'x']);
    const x = tf.tensor2d(X);
    const mask = tf.tensor2d(MASK);
    const attr = await new Saliency(model).attribute(mask, { target: 0, inputs: { x }, abs: false });
    expect((await attr.values.array()) as number[][]).toEqual(X.map((row) => row.map((v, i) => v * W[i]!)));
    attr.dispose();
    await expect(new Saliency(model).attribute(mask, { target: 0 })).rejects.toMatchObject({ code: 'capability_missing', details: { input: 'x' } });
    const short = tf.tensor2d([[1, 1, 1, 1]]);
    await expect(new Saliency(model).attribute(mask, { target: 0, inputs: { x: short } })).rejects.toMatchObject({ code: 'shape_mismatch', details: { input: 'x' } });
    expect(() => fromLayersModel(maskedLinear(), { input: 'nope' })).toThrowError(expect.objectContaining({ code: 'invalid_model' }));
    tf.dispose([x, mask, short]);
  });
});
