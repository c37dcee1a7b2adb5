// Batching the models people export: a batch fixed at 1 (attrib runs rows one at a time), extra
// inputs whose batch is on another axis or on none, and loadModel's input/output names for .onnx.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { checkVjp } from '../../../test/vjp-check.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { Rng } from '../../core/random.js';
import { loadModel } from '../../io/load-model.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import { isHooked, type DifferentiableModel, type HookedModel, type ModelAdapter } from '../model.js';
import { placeRows, resolveBatchAxes } from './batch-axes.js';
import { decodeModel, encodeModel } from './grad/compile.js';
import { freeFixedBatch } from './free-batch.js';
import { floatTensor, int64Tensor, intAttr, makeModel, node } from './graph/build.js';
import { fromOnnx } from './node.js';

beforeAll(() => useBackend('wasm'));
afterAll(() => removeTempDirs());

const rng = new Rng(7);
const randn = (n: number, scale = 1) => Array.from({ length: n }, () => rng.normal() * scale);
const w = randn(12);

/** y = reshape(tanh(x·W), [1, 3]) with the batch fixed at 1 (the reshape's 1 is hard-coded, as exporters write it). */
const fixed = makeModel({
  nodes: [node('MatMul', ['x', 'w'], ['h']), node('Tanh', ['h'], ['t']), node('Reshape', ['t', 'shape'], ['y'])],
  inputs: [{ name: 'x', shape: [1, 4] }],
  outputs: [{ name: 'y', shape: [1, 3] }],
  initializers: [floatTensor('w', [4, 3], w), int64Tensor('shape', [2], [1, 3])],
});

/** y = x·W + sr · Σ_layers state: state [2, batch, 3] (recurrent state, batch on axis 1), sr a scalar. */
function stateful(batch: number | string) {
  return makeModel({
    nodes: [node('MatMul', ['x', 'w'], ['h']), node('ReduceSum', ['state', 'ax0'], ['s'], [intAttr('keepdims', 0)]), node('Mul', ['s', 'sr'], ['ss']), node('Add', ['h', 'ss'], ['y'])],
    inputs: [
      { name: 'x', shape: [batch, 4] },
      { name: 'state', shape: [2, batch, 3] },
      { name: 'sr', shape: [] },
    ],
    outputs: [{ name: 'y', shape: [batch, 3] }],
    initializers: [floatTensor('w', [4, 3], w), int64Tensor('ax0', [1], [0])],
  });
}

function hooked(m: ModelAdapter): HookedModel {
  if (!isHooked(m)) throw new TypeError('an ONNX model has hooks');
  return m;
}

describe('batch axes of extra inputs', () => {
  it('placeRows moves the row axis, or keeps the one row shared by all; resolveBatchAxes infers from symbolic dims', () => {
    // 2 rows of [2, 3] → [2, rows, 3]
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const placed = placeRows(data, [2, 2, 3], 1, 'state');
    expect(placed.shape).toEqual([2, 2, 3]);
    expect(Array.from(placed.data)).toEqual([0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]);
    expect(placeRows(Float32Array.from([16000, 16000]), [2], null, 'sr')).toEqual({ data: Float32Array.from([16000]), shape: [] });
    expect(() => placeRows(Float32Array.from([16000, 8000]), [2], null, 'sr')).toThrowError(expect.objectContaining({ code: 'invalid_argument', message: expect.stringMatching(/'sr'.*rows 0 and 1 differ/) }));
    const axes = resolveBatchAxes(undefined, ['batch', 4], [{ name: 'state', shape: [2, 'batch', 3] }, { name: 'sr', shape: [] }, { name: 'mask', shape: ['b2', 4] }], 'f');
    expect([...axes]).toEqual([['state', 1], ['sr', null], ['mask', 0]]);
    expect(() => resolveBatchAxes({ state: 3 }, ['batch', 4], [{ name: 'state', shape: [2, 'batch', 3] }], 'f')).toThrowError(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => resolveBatchAxes({ nope: 0 }, ['batch', 4], [{ name: 'state', shape: [2, 'batch', 3] }], 'f')).toThrowError(/'nope', which is not one of/);
  });

  it.each([['dynamic batch', 'batch'], ['batch fixed at 1', 1]] as const)('recurrent state [2, batch, 3] and a scalar sample rate (%s): forward and Saliency', async (_, batch) => {
    const model = (await fromOnnx(encodeModel(stateful(batch)), batch === 1 ? { inputBatchAxes: { state: 1 } } : {})) as DifferentiableModel;
    expect(model.inputShape).toEqual([null, 4]);
    const x = tf.tensor2d(randn(12), [3, 4]);
    const stateRows = randn(18); // one [2, 3] state per row
    const inputs = { state: tf.tensor3d(stateRows, [3, 2, 3]), sr: tf.tensor1d([0.5, 0.5, 0.5]) };
    const y = await model.forward(x, { rows: [0, 1, 2], inputs });
    const xs = Array.from(await x.data());
    const expected = [0, 1, 2].flatMap((r) => [0, 1, 2].map((j) => [0, 1, 2, 3].reduce((a, k) => a + xs[r * 4 + k]! * w[k * 3 + j]!, 0) + 0.5 * (stateRows[r * 6 + j]! + stateRows[r * 6 + 3 + j]!)));
    Array.from(await y.data()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
    const sal = await new Saliency(model).attribute(x, { target: [0, 2, 1], abs: false, inputs });
    // d y_t / d x_k = W[k, t]
    const got = Array.from(await sal.values.data());
    [0, 2, 1].forEach((t, r) => [0, 1, 2, 3].forEach((k) => expect(got[r * 4 + k]).toBeCloseTo(w[k * 3 + t]!, 5)));
    // two rows: the scalar sample rate is fed as a scalar (as a [2] vector it would not broadcast with [2, 3])
    const x2 = tf.slice(x, 0, 2);
    const two = { state: tf.slice(inputs.state, 0, 2), sr: tf.tensor1d([0.5, 0.5]) };
    const y2 = await model.forward(x2, { rows: [0, 1], inputs: two });
    Array.from(await y2.data()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
    tf.dispose([x, y, inputs.state, inputs.sr, x2, y2, two.state, two.sr]);
    sal.dispose();
    model.dispose();
  });
});

describe('models exported with a batch fixed at 1', () => {
  it('report a free batch, run any number of rows, and differentiate them (finite differences, 3 rows)', async () => {
    const model = await fromOnnx(encodeModel(fixed));
    expect(model.inputShape).toEqual([null, 4]);
    const x = tf.tensor2d(randn(12), [3, 4]);
    const y = await model.forward(x);
    expect(y.shape).toEqual([3, 3]);
    const row = tf.slice(x, 1, 1);
    const y1 = await model.forward(row);
    expect(Array.from(await y1.data())).toEqual(Array.from(await y.data()).slice(3, 6));
    // rows run one at a time leave no tensors behind (forward, function-target and index-target gradients)
    const diff = model as DifferentiableModel;
    await expectNoLeak(async () => {
      const out = await diff.forward(x);
      const g1 = await diff.gradients(x, (o) => tf.sum(tf.mul(o, o), 1));
      const g2 = await diff.gradients(x, Object.assign((o: tf.Tensor) => tf.sum(o, 1), { targetIndices: Int32Array.from([0, 2, 1]) }));
      tf.dispose([out, g1, g2]);
    });
    tf.dispose([x, y, row, y1]);
    model.dispose();
    await checkVjp(randn, fixed, [3, 4], [3, 3]);
  });

  it('a graph that allows it gets its batch freed (checked on ORT); one that hard-codes the batch keeps rows one at a time', async () => {
    const free = makeModel({ nodes: [node('MatMul', ['x', 'w'], ['h']), node('Tanh', ['h'], ['y'])], inputs: [{ name: 'x', shape: [1, 4] }], outputs: [{ name: 'y', shape: [1, 3] }], initializers: [floatTensor('w', [4, 3], w)] });
    const ort = await import('onnxruntime-node');
    const freed = await freeFixedBatch(encodeModel(free), ort);
    expect(freed).toBeDefined();
    expect(decodeModel(freed!).graph!.input![0]!.type!.tensorType!.shape!.dim![0]!.dimParam).toBe('attrib_batch');
    expect(await freeFixedBatch(encodeModel(fixed), ort)).toBeUndefined(); // Reshape to [1, 3]
    const unet = new URL('../../../test/fixtures/onnx/unet_fixed1_opset9.onnx', import.meta.url).pathname;
    expect(await freeFixedBatch(new Uint8Array(readFileSync(unet)), ort)).toBeDefined();
    await checkVjp(randn, free, [3, 4], [3, 3]);
  });

  it('hook activations run row by row too, with extra inputs on their own batch axis', async () => {
    const model = hooked(await fromOnnx(encodeModel(fixed)));
    const x = tf.tensor2d(randn(12), [3, 4]);
    const h = await model.activation(x, 'h');
    expect(h.shape).toEqual([3, 3]);
    const h1 = await model.activation(tf.slice(x, 2, 1), 'h');
    expect(Array.from(await h1.data())).toEqual(Array.from(await h.data()).slice(6, 9));
    tf.dispose([x, h, h1]);
    model.dispose();
    const rnn = hooked(await fromOnnx(encodeModel(stateful(1)), { inputBatchAxes: { state: 1 } }));
    const xs = tf.tensor2d(randn(8), [2, 4]);
    const inputs = { state: tf.tensor3d([1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6], [2, 2, 3]), sr: tf.tensor1d([2, 2]) };
    const ss = await rnn.activation(xs, 'ss', { rows: [0, 1], inputs });
    expect(Array.from(await ss.data())).toEqual([10, 14, 18, -10, -14, -18]);
    tf.dispose([xs, ss, inputs.state, inputs.sr]);
    rnn.dispose();
  });

  it('loadModel keeps inputName and outputName for .onnx files', async () => {
    const file = path.join(tempDir(), 'fixed.onnx');
    writeFileSync(file, encodeModel(fixed));
    const model = await loadModel(file, { outputName: 'h', cacheDir: false });
    const x = tf.ones([2, 4]);
    const h = await model.forward(x);
    expect(Array.from(await h.data()).slice(0, 3).map((v) => Number(v.toFixed(4)))).toEqual([0, 1, 2].map((j) => Number([0, 1, 2, 3].reduce((a, k) => a + w[k * 3 + j]!, 0).toFixed(4))));
    tf.dispose([x, h]);
    model.dispose();
    const cut = await loadModel(file, { inputName: 'h', cacheDir: false });
    expect(cut.inputNames?.[0]).toBe('h');
    cut.dispose();
  });
});
