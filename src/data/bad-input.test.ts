import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataExamples, dataModel } from '../../test/data-reference.js';
import { Rng } from '../core/random.js';
import { floatTensor, makeModel, node, intAttr } from '../models/onnx/graph/build.js';
import { gradientMatrix } from './gradients.js';
import { GradientSimilarity } from './grad-similarity.js';
import { InfluenceFunctions } from './influence.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { RandomProjection } from './projection.js';
import { Trak } from './trak.js';

const train = dataExamples('train');
const test = dataExamples('test');
const codeOf = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string; details?: Record<string, unknown> }) => e.code);

const rng = new Rng(5);
const randn = (n: number, s: number) => Array.from({ length: n }, () => rng.normal() * s);

/** x [*, 4] → MatMul W [4, 6] → Add b [6] → Relu → Gemm (transB = 0) V [6, 3] + c [3]. */
function matmulModel() {
  return makeModel({
    nodes: [node('MatMul', ['x', 'W'], ['h0']), node('Add', ['h0', 'b'], ['h1']), node('Sigmoid', ['h1'], ['h2']), node('Gemm', ['h2', 'V', 'c'], ['y'], [intAttr('transB', 0)])],
    inputs: [{ name: 'x', shape: ['n', 4] }],
    outputs: [{ name: 'y', shape: ['n', 3] }],
    initializers: [floatTensor('W', [4, 6], randn(24, 0.7)), floatTensor('b', [6], randn(6, 0.3)), floatTensor('V', [6, 3], randn(18, 0.7)), floatTensor('c', [3], randn(3, 0.3))],
  });
}

describe('training-data attribution: bad input and what cannot be differentiated', () => {
  it('X and Y of different lengths: shape_mismatch', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const short = { x: train.x, y: { shape: [100], data: train.y.data.slice(0, 100) } };
    expect(await codeOf(new InfluenceFunctions(model, { l2: 0.01 }).attribute(short, test))).toBe('shape_mismatch');
    const wrongRow = { x: { shape: [10, 12], data: new Float32Array(120) }, y: { shape: [10], data: new Int32Array(10) } };
    expect(await codeOf(new GradientSimilarity(model).attribute(train, wrongRow))).toBe('shape_mismatch');
  });

  it('NaN or infinite inputs (or MSE targets) are refused naming the example, not turned into NaN scores', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const x = Float32Array.from(test.x.data);
    x[3 * 13 + 2] = Number.NaN;
    const err = await new GradientSimilarity(model).attribute(train, { x: { shape: test.x.shape, data: x }, y: test.y }).catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'invalid_argument', details: { arg: 'test.x', index: 3 } });
  });

  it('labels out of range for the logits: invalid_argument naming the example', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const y = test.y.data.slice();
    y[7] = 3;
    const err = await new GradientSimilarity(model).attribute(train, { x: test.x, y: { shape: [50], data: y } }).catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'invalid_argument', details: { index: 7, value: 3, classes: 3 } });
  });

  it('projection dimension larger than the parameter count: invalid_argument', async () => {
    expect(() => new RandomProjection(42, 43)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    expect(await codeOf(new Trak(model, { projectionDim: 100 }).attribute(train, test))).toBe('invalid_argument');
    expect(await codeOf(new Trak(model).attribute(train, test, { loss: 'mse' }))).toBe('capability_missing');
  });

  it('a parameter outside a dense layer: capability_missing naming the op', async () => {
    const ln = makeModel({
      nodes: [node('Gemm', ['x', 'W'], ['h'], [intAttr('transB', 1)]), node('LayerNormalization', ['h', 'gamma', 'beta'], ['y'])],
      inputs: [{ name: 'x', shape: ['n', 4] }],
      outputs: [{ name: 'y', shape: ['n', 3] }],
      initializers: [floatTensor('W', [3, 4], randn(12, 1)), floatTensor('gamma', [3], [1, 1, 1]), floatTensor('beta', [3], [0, 0, 0])],
    });
    const err = await OnnxTrainingModel.load(ln).catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'capability_missing', details: { op: 'LayerNormalization', parameter: 'gamma' } });
  });

  /** x [*, 4] → Gemm → `op` → Gemm → y [*, 3]. */
  const through = (op: string) =>
    makeModel({
      nodes: [node('Gemm', ['x', 'W', 'b'], ['h'], [intAttr('transB', 1)]), node(op, ['h'], ['r']), node('Gemm', ['r', 'V', 'c'], ['y'], [intAttr('transB', 1)])],
      inputs: [{ name: 'x', shape: ['n', 4] }],
      outputs: [{ name: 'y', shape: ['n', 3] }],
      initializers: [floatTensor('W', [5, 4], randn(20, 1)), floatTensor('b', [5], randn(5, 1)), floatTensor('V', [3, 5], randn(15, 1)), floatTensor('c', [3], randn(3, 1))],
    });

  it('an op on the path from the parameters to the loss without a gradient rule: capability_missing naming the op', async () => {
    const err: unknown = await OnnxTrainingModel.load(through('Hardmax')).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'capability_missing', details: { op: 'Hardmax' }, message: expect.stringContaining("op 'Hardmax'") });
  });

  it('a piecewise-constant op (Round) differentiates to zero in float64: the first layer gets no gradient, the last its own', async () => {
    using model = await OnnxTrainingModel.load(through('Round'));
    const set = { x: { shape: [2, 4], data: Float32Array.from(randn(8, 1)) }, y: { shape: [2], data: Int32Array.of(0, 2) } };
    const { grads } = await gradientMatrix(model, set, 'cross-entropy');
    const p = model.parameterCount; // W 20, b 5, V 15, c 3
    for (let r = 0; r < 2; r++) {
      expect(grads.subarray(r * p, r * p + 25).every((v) => v === 0)).toBe(true);
      expect(grads.subarray(r * p + 40, r * p + 43).some((v) => v !== 0)).toBe(true);
    }
  });

  it('MatMul + Add and Gemm (transB = 0) layers: gradients equal central differences; a non-PD Hessian is refused', async () => {
    using model = await OnnxTrainingModel.load(matmulModel());
    expect(model.parameters.map((p) => p.name)).toEqual(['W', 'b', 'V', 'c']);
    const x = new Float32Array(randn(8, 1));
    const set = { x: { shape: [2, 4], data: x }, y: { shape: [2], data: new Int32Array([2, 0]) } };
    const { grads } = await gradientMatrix(model, set, 'cross-entropy');
    const theta = model.theta();
    const p = model.parameterCount;
    const at = async (t: Float64Array) => (await gradientMatrix(model, set, 'cross-entropy', { theta: t })).value;
    for (let k = 0; k < p; k += 3) {
      const up = theta.slice();
      up[k]! += 1e-6;
      const down = theta.slice();
      down[k]! -= 1e-6;
      const [a, b] = [await at(up), await at(down)];
      for (let r = 0; r < 2; r++) expect(grads[r * p + k]!).toBeCloseTo((a[r]! - b[r]!) / 2e-6, 6);
    }
    // random weights are no minimum: the exact Hessian without l2 is indefinite
    expect(await codeOf(new InfluenceFunctions(model).attribute(set, set))).toBe('invalid_argument');
  });

  it('the exact Hessian of more than 8,192 parameters is refused before any work, naming the other solvers', async () => {
    using big = await OnnxTrainingModel.load(
      makeModel({ nodes: [node('Gemm', ['x', 'W'], ['y'], [intAttr('transB', 1)])], inputs: [{ name: 'x', shape: ['n', 100] }], outputs: [{ name: 'y', shape: ['n', 90] }], initializers: [floatTensor('W', [90, 100], new Array(9000).fill(0.01))] }),
    );
    const set = { x: { shape: [2, 100], data: new Float32Array(200) }, y: { shape: [2], data: new Int32Array([0, 1]) } };
    const err = await new InfluenceFunctions(big, { l2: 0.1 }).attribute(set, set).catch((e: { code: string; details: Record<string, unknown> }) => e);
    expect(err).toMatchObject({ code: 'invalid_argument', details: { arg: 'hessian', parameters: 9000 } });
  });

  it('an initializer whose data disagrees with its dims (or whose dims are absurd) is refused as invalid_model, not read past or allocated', async () => {
    const gemm = (dims: number[], values: number[]) =>
      makeModel({ nodes: [node('Gemm', ['x', 'W'], ['y'], [intAttr('transB', 1)])], inputs: [{ name: 'x', shape: ['n', 4] }], outputs: [{ name: 'y', shape: ['n', 3] }], initializers: [floatTensor('W', dims, values)] });
    // more values than [3, 4] holds: they spilled into θ past W's slot (a RangeError)
    expect(await codeOf(OnnxTrainingModel.load(gemm([3, 4], new Array(20).fill(0.1))))).toBe('invalid_model');
    // fewer: the rest of W silently read as zeros
    expect(await codeOf(OnnxTrainingModel.load(gemm([3, 4], new Array(5).fill(0.1))))).toBe('invalid_model');
    // dims of 10¹² parameters with no data: θ must not be allocated from them
    expect(await codeOf(OnnxTrainingModel.load(gemm([1_000_000, 1_000_000], [0.1])))).toBe('invalid_model');
  });

  it('progress: events count gradient rows up to the total', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const events: { phase: string; done: number; total: number }[] = [];
    using r = await new GradientSimilarity(model).attribute(train, test, { batchSize: 8, onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ done: 178, total: 178 });
    for (let k = 1; k < events.length; k++) expect(events[k]!.done).toBeGreaterThanOrEqual(events[k - 1]!.done);
    expect(r.diagnostics.evaluations).toBe(178);
  });

  it('abort: a signal aborted during the run rejects with aborted', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    const ac = new AbortController();
    const run = new InfluenceFunctions(model, { l2: 0.001 }).attribute(train, test, { signal: ac.signal, batchSize: 16, onProgress: () => ac.abort() });
    expect(await codeOf(run)).toBe('aborted');
  });
});
