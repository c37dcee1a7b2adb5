import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../../../test/backend.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, loadReferenceModel, relError } from '../../../test/reference.js';
import { residualNet } from '../../../test/reference-models.js';
import { Rng } from '../../core/random.js';
import { fromLayersModel, type LayersModelAdapter } from '../../models/tfjs/layers-model.js';
import type { HookedModel } from '../../models/model.js';
import { InputXGradient } from '../gradient/input-x-gradient.js';
import { Lrp } from './lrp.js';

/** A bias-free ReLU MLP 6 → 8 → 5 → 3 with seeded weights. */
function denseNet(seed = 3): LayersModelAdapter {
  const rng = new Rng(seed);
  const made: tf.Tensor[] = [];
  const w = (shape: number[]) => {
    const t = tf.tensor(rng.fillNormal(new Float32Array(shape[0]! * shape[1]!), 0.7), shape);
    made.push(t);
    return t;
  };
  const model = tfl.sequential({
    name: 'dense',
    layers: [
      tfl.layers.dense({ inputShape: [6], units: 8, activation: 'relu', useBias: false, name: 'd1', weights: [w([6, 8])] }),
      tfl.layers.dense({ units: 5, activation: 'relu', useBias: false, name: 'd2', weights: [w([8, 5])] }),
      tfl.layers.dense({ units: 3, useBias: false, name: 'out', weights: [w([5, 3])] }),
    ],
  });
  tf.dispose(made);
  return fromLayersModel(model);
}

const sums = async (t: tf.Tensor) => Array.from(await tf.tidy(() => tf.sum(tf.reshape(t, [t.shape[0]!, -1]), 1)).data());

describe.each(BACKENDS)('LRP on %s', (backend) => {
  let dense: LayersModelAdapter;
  let res: LayersModelAdapter;
  let xd: tf.Tensor;
  let xr: tf.Tensor;
  beforeAll(async () => {
    await useBackend(backend);
    dense = denseNet();
    res = residualNet(7, { biasFree: true });
    xd = tf.tidy(() => tf.randomNormal([5, 6], 0, 1, 'float32', 9));
    xr = tf.tidy(() => tf.randomUniform([3, 8, 8, 2], 0, 1, 'float32', 4));
  });
  afterAll(() => {
    dense.dispose();
    res.dispose();
    tf.dispose([xd, xr]);
  });

  it('LRP-ε conserves relevance on a bias-free dense ReLU net and equals Input × Gradient (LRP-0 = x ⊙ ∇f)', async () => {
    using r = await new Lrp(dense).attribute(xd, { target: 1 });
    using ixg = await new InputXGradient(dense).attribute(xd, { target: 1 });
    expect(await relError(r.values, Array.from(await ixg.values.data()), ixg.values.shape)).toBeLessThan(1e-4);
    const y = await dense.forward(xd);
    const f = Array.from(await tf.tidy(() => tf.gather(y, [1], 1)).data());
    y.dispose();
    (await sums(r.values)).forEach((s, i) => expect(Math.abs(s - f[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(f[i]!))));
    expect(Math.max(...Array.from(r.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-4);
  });

  it('α1β0 (where the target logit is positive) and z-box conserve relevance without biases', async () => {
    const y = await dense.forward(xd);
    const f = Array.from(await tf.tidy(() => tf.gather(y, [0], 1)).data());
    y.dispose();
    for (const rules of [{ Dense: { rule: 'alpha-beta', alpha: 1, beta: 0 } }, { d1: { rule: 'z-box', low: -4, high: 4 } }] as const) {
      using r = await new Lrp(dense, { rules }).attribute(xd, { target: 0 });
      r.diagnostics.convergenceDelta!.forEach((d, i) => {
        if (rules.Dense === undefined || f[i]! > 0) expect(Math.abs(d), `${JSON.stringify(rules)} row ${i}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(f[i]!)));
      });
    }
    // αβ (2, 1) weighs positive and negative contributions apart: not conservative where a neuron has only one kind
    using ab = await new Lrp(dense, { rules: { Dense: { rule: 'alpha-beta', alpha: 2, beta: 1 } } }).attribute(xd, { target: 0 });
    expect(Array.from(await ab.values.data()).every(Number.isFinite)).toBe(true);
  });

  it('residual block with BatchNorm (folded) and average pooling: LRP-ε equals Input × Gradient when bias-free', async () => {
    using r = await new Lrp(res).attribute(xr, { target: [0, 1, 2] });
    using ixg = await new InputXGradient(res).attribute(xr, { target: [0, 1, 2] });
    expect(await relError(r.values, Array.from(await ixg.values.data()), ixg.values.shape)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(r.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-4);
    using unfolded = await new Lrp(res, { foldBatchNorm: false }).attribute(xr, { target: [0, 1, 2] });
    expect(await relError(unfolded.values, Array.from(await r.values.data()), r.values.shape)).toBeLessThan(1e-4);
  });

  it('γ = 0 is the ε rule; the composite preset differs from ε and stays finite', async () => {
    const model = (await loadReferenceModel('image_cnn')) as unknown as HookedModel;
    const x = examples('image_cnn');
    using eps = await new Lrp(model).attribute(x, { target: 'auto' });
    using g0 = await new Lrp(model, { rules: { Conv2D: { rule: 'gamma', gamma: 0, epsilon: 1e-9 } } }).attribute(x, { target: 'auto' });
    expect(await relError(g0.values, Array.from(await eps.values.data()), eps.values.shape)).toBeLessThan(1e-4);
    using comp = await new Lrp(model, { preset: 'composite' }).attribute(x, { target: 'auto' });
    const c = await comp.values.data();
    expect(c.every(Number.isFinite)).toBe(true);
    expect(await relError(comp.values, Array.from(await eps.values.data()), eps.values.shape)).toBeGreaterThan(0.01);
    await expectNoLeak(async () => (await new Lrp(model, { preset: 'composite' }).attribute(x, { target: 'auto', batchSize: 3 })).dispose());
    await expectNoLeak(async () => (await new Lrp(res).attribute(xr, { target: 0 })).dispose());
    x.dispose();
    model.dispose();
  });

  it('names the layer it has no rule for', async () => {
    const text = (await loadReferenceModel('text_cnn')) as unknown as HookedModel;
    expect(() => new Lrp(text)).toThrow(/no relevance rule for layer 'embedding' .*\(type Embedding\)/);
    text.dispose();
    const soft = fromLayersModel(tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', name: 'probs' })] }));
    expect(() => new Lrp(soft)).toThrow(expect.objectContaining({ code: 'capability_missing' }));
    soft.dispose();
    expect(() => new Lrp(dense, { preset: 'nope' as never })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
