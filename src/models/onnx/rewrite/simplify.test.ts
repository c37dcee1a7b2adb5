// The forward-graph rewrites made before a backward graph is compiled: the same outputs and the same
// vector–Jacobian products as the graph as written (ties in max pools included), fewer passes.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../core/random.js';
import { floatAttr, floatTensor, int64Tensor, intAttr, intsAttr, makeModel, node, permute } from '../graph/build.js';
import { graphOf, type ModelProto } from '../graph/proto.js';
import { COTANGENT, compileVjp, encodeModel, gradName, probeModel } from '../grad/compile.js';
import { simplifyForGradients } from './simplify.js';

const rng = new Rng(23);
const randn = (n: number, scale = 1) => Array.from({ length: n }, () => rng.normal() * scale);
const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const t = (x: string, perm: number[], y: string) => node('Transpose', [x], [y], [intsAttr('perm', perm)]);

/** Runs `model` and its compiled VJP (probed at batch 1) on x with cotangent c: [output, gradient]. */
async function outputAndVjp(model: ModelProto, x: Float32Array, shape: number[], c: Float32Array, cShape: number[], blockedLayout = false): Promise<[Float32Array, Float32Array]> {
  const g = graphOf(model);
  const [input, output] = [g.input[0]!.name!, g.output[0]!.name!];
  const probe = await ort.InferenceSession.create(encodeModel(probeModel(model)));
  const row = new ort.Tensor('float32', x.slice(0, x.length / shape[0]!), [1, ...shape.slice(1)]);
  const values = await probe.run({ [input]: row });
  const shapes = new Map<string, readonly number[]>(Object.entries(values).map(([k, v]) => [k, (v as ort.Tensor).dims]));
  shapes.set(input, [1, ...shape.slice(1)]);
  for (const init of g.initializer) shapes.set(init.name!, (init.dims ?? []).map(Number));
  const session = await ort.InferenceSession.create(encodeModel(compileVjp(model, input, output, shapes, { blockedLayout })));
  const out = await session.run({ [input]: new ort.Tensor('float32', x, shape), [COTANGENT]: new ort.Tensor('float32', c, cShape) });
  await Promise.all([probe.release(), session.release()]);
  return [out[output]!.data as Float32Array, out[gradName(input)]!.data as Float32Array];
}

const maxRel = (a: Float32Array, b: Float32Array) => {
  const scale = Math.max(...Array.from(b, Math.abs), 1e-12);
  return Math.max(...Array.from(a, (v, k) => Math.abs(v - b[k]!))) / scale;
};

/**
 * The simplified graph gives the original's outputs and VJPs on noise, on a batch whose first
 * `flatRows` images are flat (every pool window inside ties, so the first arg-max matters) and on
 * all zeros; with `blocked`, also the VJP with the blocked-layout ReLU masks.
 */
async function expectSameOnTiedImages(model: ModelProto, simple: ModelProto, shape: number[], cShape: number[], flatRows: number, blocked = false): Promise<void> {
  const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
  const noise = Float32Array.from(randn(shape[0]! * rowSize));
  const flat = Float32Array.from(noise, (v, k) => (k < flatRows * rowSize ? 0.5 : v));
  const c = Float32Array.from(randn(cShape.reduce((a, b) => a * b, 1)));
  for (const x of [noise, flat, new Float32Array(noise.length)]) {
    const [y0, g0] = await outputAndVjp(model, x, shape, c, cShape);
    const [y1, g1] = await outputAndVjp(simple, x, shape, c, cShape);
    expect(maxRel(y1, y0)).toBeLessThan(1e-5);
    expect(maxRel(g1, g0)).toBeLessThan(1e-5);
    if (blocked) {
      const [, g2] = await outputAndVjp(simple, x, shape, c, cShape, true);
      expect(maxRel(g2, g0)).toBeLessThan(1e-6);
    }
  }
}

/** A channels-last CNN as the TF.js exporter writes it: every channels-first op between transposes. */
function channelsLastCnn(): ModelProto {
  const c = 8;
  return makeModel({
    nodes: [
      t('x', NHWC_TO_NCHW, 'x_t'),
      node('Conv', ['x_t', 'w1', 'b1'], ['c1'], [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])]),
      t('c1', NCHW_TO_NHWC, 'c1_l'),
      node('Identity', ['c1_l'], ['conv1']),
      t('conv1', NHWC_TO_NCHW, 'conv1_t'),
      node('BatchNormalization', ['conv1_t', 'gamma', 'beta', 'mean', 'var'], ['bn_t'], [floatAttr('epsilon', 1e-3)]),
      t('bn_t', NCHW_TO_NHWC, 'bn'),
      node('Relu', ['bn'], ['relu']),
      node('Add', ['relu', 'shift'], ['shifted']), // a per-channel constant on the channels-last axis
      t('shifted', NHWC_TO_NCHW, 'shifted_t'),
      node('Relu', ['shifted_t'], ['relu2_t']),
      node('MaxPool', ['relu2_t'], ['pool_t'], [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]),
      t('pool_t', NCHW_TO_NHWC, 'pool'),
      node('Sigmoid', ['pool'], ['sig']),
      node('Mul', ['pool', 'sig'], ['swish']),
      node('Concat', ['swish', 'pool'], ['cat'], [intAttr('axis', 3)]),
      node('ReduceMean', ['cat'], ['gap'], [intsAttr('axes', [1, 2]), intAttr('keepdims', 0)]),
      node('Gemm', ['gap', 'wd', 'bd'], ['y']),
    ],
    inputs: [{ name: 'x', shape: ['n', 6, 6, 3] }],
    outputs: [{ name: 'y', shape: ['n', 4] }],
    initializers: [
      floatTensor('w1', [c, 3, 3, 3], randn(c * 27, 0.4)),
      floatTensor('b1', [c], randn(c, 0.1)),
      floatTensor('gamma', [c], randn(c, 0.2).map((v) => 1 + v)),
      floatTensor('beta', [c], randn(c, 0.1)),
      floatTensor('mean', [c], randn(c, 0.1)),
      floatTensor('var', [c], randn(c, 0.2).map((v) => 1 + Math.abs(v))),
      floatTensor('shift', [c], randn(c, 0.1)),
      floatTensor('wd', [2 * c, 4], randn(2 * c * 4, 0.5)),
      floatTensor('bd', [4], randn(4, 0.1)),
    ],
  });
}

describe('simplifyForGradients', () => {
  it('permute transposes row-major arrays', () => {
    // [[0,1,2],[3,4,5]] transposed
    expect(Array.from(permute([0, 1, 2, 3, 4, 5], [2, 3], [1, 0]))).toEqual([0, 3, 1, 4, 2, 5]);
    const x = Array.from({ length: 24 }, (_, k) => k);
    expect(Array.from(permute(permute(x, [2, 3, 4], [2, 0, 1]), [4, 2, 3], [1, 2, 0]))).toEqual(x);
  });

  it('a channels-last CNN: transposes cancelled, BN folded, ReLU after the pool; same outputs and VJPs, ties included', async () => {
    const model = channelsLastCnn();
    const { model: simple, stats } = simplifyForGradients(model);
    // left: the input's, and the pool's (three readers: a transpose moves only past a sole reader)
    expect(stats).toEqual({ transposesBefore: 6, transposesAfter: 2, reluPoolSwaps: 1, batchNormsFolded: 1, poolsInPhaseForm: 0 });
    const ops = graphOf(simple).node.map((n) => n.opType);
    expect(ops).not.toContain('BatchNormalization');
    expect(ops).not.toContain('Identity');
    expect(ops.indexOf('MaxPool')).toBeLessThan(ops.lastIndexOf('Relu'));
    // ReLU masks in the blocked-layout form (tanh of a BatchNormalization) checked too
    await expectSameOnTiedImages(model, simple, [3, 6, 6, 3], [3, 4], 2, true);
  });

  it('2×2 max pools of few-channel convolutions in phase form: same outputs and VJPs, first arg-max on ties', async () => {
    // an odd height (the pool drops the last row), a non-square kernel with asymmetric pads, a conv
    // without bias; the 8-channel conv keeps its MaxPool (its backward is a fast blocked Conv)
    const pool = (x: string, y: string) => node('MaxPool', [x], [y], [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]);
    const model = makeModel({
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], ['c1'], [intsAttr('kernel_shape', [3, 2]), intsAttr('pads', [1, 0, 1, 1])]),
        node('Relu', ['c1'], ['r1']),
        pool('r1', 'p1'),
        node('Conv', ['p1', 'w2'], ['c2'], [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])]),
        pool('c2', 'p2'),
        node('Conv', ['p2', 'w3'], ['c3'], [intsAttr('kernel_shape', [1, 1])]),
        pool('c3', 'p3'),
        node('Flatten', ['p3'], ['f']),
        node('Gemm', ['f', 'wd'], ['y']),
      ],
      inputs: [{ name: 'x', shape: ['n', 3, 9, 8] }],
      outputs: [{ name: 'y', shape: ['n', 3] }],
      initializers: [
        floatTensor('w1', [5, 3, 3, 2], randn(90, 0.4)),
        floatTensor('b1', [5], randn(5, 0.1)),
        floatTensor('w2', [8, 5, 3, 3], randn(360, 0.3)),
        floatTensor('w3', [4, 8, 1, 1], randn(32, 0.3)),
        floatTensor('wd', [4, 3], randn(12, 0.5)),
      ],
    });
    const { model: simple, stats } = simplifyForGradients(model);
    expect(stats.poolsInPhaseForm).toBe(2);
    expect(graphOf(simple).node.filter((n) => n.opType === 'MaxPool')).toHaveLength(1);
    await expectSameOnTiedImages(model, simple, [3, 3, 9, 8], [3, 3], 1);
    // a 1×1 stem on a checkerboard: windows [[a, b], [b, a]] tie on the off-diagonal (or the
    // diagonal, for channels with negative weight sums), so the block order must be row-major
    const stem = makeModel({
      nodes: [node('Conv', ['x', 'w'], ['c'], [intsAttr('kernel_shape', [1, 1])]), pool('c', 'p'), node('Flatten', ['p'], ['f']), node('Gemm', ['f', 'wd'], ['y'])],
      inputs: [{ name: 'x', shape: ['n', 3, 4, 4] }],
      outputs: [{ name: 'y', shape: ['n', 2] }],
      initializers: [floatTensor('w', [4, 3, 1, 1], [1, 0.5, 0.2, -1, -0.5, 0.3, 0.7, 0.1, 0.1, -0.2, -0.6, 0.1]), floatTensor('wd', [16, 2], randn(32, 0.5))],
    });
    expect(simplifyForGradients(stem).stats.poolsInPhaseForm).toBe(1);
    const board = Float32Array.from({ length: 2 * 48 }, (_, k) => ((k % 4) + Math.floor((k % 16) / 4)) % 2);
    const cs = Float32Array.from(randn(4));
    const [, g0] = await outputAndVjp(stem, board, [2, 3, 4, 4], cs, [2, 2]);
    const [, g1] = await outputAndVjp(simplifyForGradients(stem).model, board, [2, 3, 4, 4], cs, [2, 2]);
    expect(maxRel(g1, g0)).toBeLessThan(1e-6);
  });

  it('keeps tensors read twice, graph outputs and runtime operands in the other layout', async () => {
    // the Relu output feeds the pool and the model output: no swap; the transposed tensor is an
    // output too; the Add mixes a transposed tensor with a graph input in the other layout
    const model = makeModel({
      nodes: [
        t('x', NHWC_TO_NCHW, 'xt'),
        node('Relu', ['xt'], ['r']),
        node('MaxPool', ['r'], ['p'], [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]),
        node('Add', ['xt', 'z'], ['s']),
        node('ReduceSum', ['s', 'axes'], ['y'], [intAttr('keepdims', 0)]),
      ],
      inputs: [
        { name: 'x', shape: ['n', 4, 4, 2] },
        { name: 'z', shape: ['n', 2, 4, 4] },
      ],
      outputs: [
        { name: 'y', shape: ['n', 2] },
        { name: 'p', shape: ['n', 2, 2, 2] },
        { name: 'r', shape: ['n', 2, 4, 4] },
      ],
      initializers: [int64Tensor('axes', [2], [2, 3])],
    });
    const { model: simple, stats } = simplifyForGradients(model);
    expect(stats.reluPoolSwaps).toBe(0);
    const outputs = graphOf(simple).output.map((o) => o.name);
    expect(outputs).toEqual(['y', 'p', 'r']);
    const produced = new Set(graphOf(simple).node.flatMap((n) => n.output ?? []));
    for (const o of outputs) expect(produced.has(o!)).toBe(true);
    const x = Float32Array.from(randn(64));
    const z = Float32Array.from(randn(64));
    const run = async (m: ModelProto) => {
      const s = await ort.InferenceSession.create(encodeModel(m));
      const out = await s.run({ x: new ort.Tensor('float32', x, [2, 4, 4, 2]), z: new ort.Tensor('float32', z, [2, 2, 4, 4]) });
      await s.release();
      return outputs.map((o) => out[o!]!.data as Float32Array);
    };
    const [before, after] = [await run(model), await run(simple)];
    before.forEach((b, k) => expect(maxRel(after[k]!, b)).toBeLessThan(1e-6));
  });

  it('reductions that keep dims, axes given as an input, and Transpose pairs that compose to a permutation', async () => {
    const model = makeModel({
      nodes: [
        t('x', [0, 2, 3, 1], 'a'),
        node('Exp', ['a'], ['e']),
        t('e', [0, 2, 1, 3], 'b'), // composes with the first to [0, 3, 2, 1]
        node('ReduceMax', ['b'], ['m'], [intsAttr('axes', [1]), intAttr('keepdims', 1)]),
        node('Neg', ['m'], ['n1']),
        node('ReduceSum', ['n1', 'axes'], ['y'], [intAttr('keepdims', 0)]),
      ],
      inputs: [{ name: 'x', shape: ['n', 2, 3, 4] }],
      outputs: [{ name: 'y', shape: ['n', 1, 2] }],
      initializers: [int64Tensor('axes', [1], [2])], // the kept axes come out of the moved reduction as [0, 1, 3]
    });
    const { model: simple } = simplifyForGradients(model);
    const x = Float32Array.from(randn(48));
    const c = Float32Array.from(randn(4));
    const [y0, g0] = await outputAndVjp(model, x, [2, 2, 3, 4], c, [2, 1, 2]);
    const [y1, g1] = await outputAndVjp(simple, x, [2, 2, 3, 4], c, [2, 1, 2]);
    expect(graphOf(simple).node.map((n) => n.opType)).toEqual(['Exp', 'ReduceMax', 'Neg', 'ReduceSum', 'Transpose']);
    expect(maxRel(y1, y0)).toBeLessThan(1e-6);
    expect(maxRel(g1, g0)).toBeLessThan(1e-6);
  });
});
