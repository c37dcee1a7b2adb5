// Which nodes the backward graph differentiates: integer shape arithmetic is cut from the path,
// slices and gathers on axis 0 are fine once a transpose has moved the batch elsewhere (found by a
// probe with two rows), and an If whose branch reads the input is refused by name.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { checkVjp as checkVjpWith } from '../../../../test/vjp-check.js';
import { Rng } from '../../../core/random.js';
import type { DifferentiableModel } from '../../model.js';
import { floatTensor, int64Tensor, intAttr, intsAttr, makeModel, node } from '../graph/build.js';
import { onnx } from '../graph/proto.js';
import { fromOnnx } from '../node.js';
import { encodeModel, pathNodes } from './compile.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(31);
const randn = (n: number, scale = 1) => Array.from({ length: n }, () => rng.normal() * scale);
const checkVjp = (model: ReturnType<typeof makeModel>, inputShape: number[], outShape: number[]) => checkVjpWith(randn, model, inputShape, outShape);
const io = (inShape: (number | string)[], outShape: (number | string)[]) => ({ inputs: [{ name: 'x', shape: inShape }], outputs: [{ name: 'y', shape: outShape }] });

/** x [n, S, 3·D] → q, k, v [n, S, D] by Reshape [0, 0, 3, D] → Transpose [2, 0, 1, 3] → axis-0 Slice/Gather; y = softmax(q kᵀ) v. */
function qkvModel(take: 'slice' | 'gather') {
  const s = 3;
  const d = 2;
  const pick = (i: number, out: string) =>
    take === 'gather'
      ? [node('Gather', ['t', `i${i}`], [out], [intAttr('axis', 0)])]
      : [node('Slice', ['t', `s${i}`, `e${i}`, 'ax0'], [`${out}_4d`]), node('Squeeze', [`${out}_4d`, 'ax0'], [out])];
  return makeModel({
    nodes: [
      node('Reshape', ['x', 'split_shape'], ['r']),
      node('Transpose', ['r'], ['t'], [intsAttr('perm', [2, 0, 1, 3])]),
      ...pick(0, 'q'),
      ...pick(1, 'k'),
      ...pick(2, 'v'),
      node('Transpose', ['k'], ['kt'], [intsAttr('perm', [0, 2, 1])]),
      node('MatMul', ['q', 'kt'], ['sc']),
      node('Softmax', ['sc'], ['p'], [intAttr('axis', -1)]),
      node('MatMul', ['p', 'v'], ['y']),
    ],
    ...io(['n', s, 3 * d], ['n', s, d]),
    initializers: [
      int64Tensor('split_shape', [4], [0, 0, 3, d]),
      int64Tensor('ax0', [1], [0]),
      ...[0, 1, 2].flatMap((i) => [int64Tensor(`s${i}`, [1], [i]), int64Tensor(`e${i}`, [1], [i + 1]), int64Tensor(`i${i}`, [], [i])]),
    ],
  });
}

describe('the differentiable path', () => {
  it('cuts the dynamic-batch reshape (Shape → Gather → Unsqueeze → Concat → Reshape) from the path; gradients are right', async () => {
    const m = makeModel({
      nodes: [
        node('Shape', ['x'], ['shp']),
        node('Gather', ['shp', 'zero'], ['batch'], [intAttr('axis', 0)]),
        node('Unsqueeze', ['batch', 'ax0'], ['b1']),
        node('Concat', ['b1', 'minus1'], ['target'], [intAttr('axis', 0)]),
        node('Cast', ['x'], ['xi'], [intAttr('to', onnx.TensorProto.DataType.INT64)]), // an integer copy: no gradient
        node('Reshape', ['x', 'target'], ['flat']),
        node('MatMul', ['flat', 'w'], ['y']),
      ],
      ...io(['n', 3, 4], ['n', 2]),
      initializers: [int64Tensor('zero', [], [0]), int64Tensor('ax0', [1], [0]), int64Tensor('minus1', [1], [-1]), floatTensor('w', [12, 2], randn(24))],
    });
    const ops = pathNodes(m, 'x', 'y').nodes.map((n) => n.opType);
    expect(ops).toEqual(['Reshape', 'MatMul']);
    await checkVjp(m, [2, 3, 4], [2, 2]);
  });

  it.each(['slice', 'gather'] as const)('q/k/v split by an axis-0 %s after a transpose (the batch is on axis 1 there)', async (take) => {
    await checkVjp(qkvModel(take), [2, 3, 6], [2, 3, 2]);
  });

  it('still refuses a slice of the batch axis after a transpose moved it', async () => {
    const m = makeModel({
      nodes: [node('Transpose', ['x'], ['t'], [intsAttr('perm', [1, 0])]), node('Slice', ['t', 'st', 'en', 'ax'], ['y'])],
      ...io(['n', 3], [3, 1]),
      initializers: [int64Tensor('st', [1], [0]), int64Tensor('en', [1], [1]), int64Tensor('ax', [1], [1])],
    });
    const adapter = (await fromOnnx(encodeModel(m))) as DifferentiableModel;
    const x = tf.ones([2, 3]);
    await expect(adapter.gradients(x, (o) => tf.sum(o))).rejects.toMatchObject({ code: 'capability_missing', message: expect.stringMatching(/slice of the batch dimension \(axis 1\)/) });
    x.dispose();
    adapter.dispose();
  });

  const branch = (op: string) => ({ name: op, node: [node(op, ['x'], [`${op}_out`])], output: [{ name: `${op}_out`, type: { tensorType: { elemType: 1 } } }] });
  const ifNode = (cond: string) => ({ ...node('If', [cond], ['y']), attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('Sigmoid') }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('Neg') }] });

  it('an If on a run-time condition whose branch reads the input is on the path and refused by name (not differentiable with no path nodes)', async () => {
    const m = makeModel({ nodes: [node('ReduceSum', ['x'], ['s'], [intAttr('keepdims', 0)]), node('Greater', ['s', 'zero'], ['cond']), ifNode('cond')], ...io(['n', 3], ['n', 3]), initializers: [floatTensor('zero', [], [0])] });
    expect(pathNodes(m, 'x', 'y').nodes.map((n) => n.opType)).toEqual(['If']);
    const adapter = await fromOnnx(encodeModel(m));
    expect(adapter.capabilities.gradients).toBe(false);
    expect(adapter.gradientsUnavailable).toMatch(/op 'If'/);
    const y = await adapter.forward(tf.tensor2d([[-1, 0, 3]]));
    expect(Array.from(await y.data()).map((v) => Number(v.toFixed(4)))).toEqual([0.2689, 0.5, 0.9526]);
    y.dispose();
    adapter.dispose();
  });

  it('an If on a constant condition is inlined (the branch it takes) and differentiates', async () => {
    for (const value of [1, 0]) {
      const m = makeModel({ nodes: [ifNode('cond')], ...io(['n', 3], ['n', 3]) });
      m.graph!.initializer!.push({ name: 'cond', dims: [], dataType: onnx.TensorProto.DataType.BOOL, rawData: new Uint8Array([value]) });
      await checkVjp(m, [2, 3], [2, 3]);
    }
  });
});
