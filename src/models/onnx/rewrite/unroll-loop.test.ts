// Loops of constant trip count unrolled: the same outputs as ONNX Runtime's Loop (carried values
// and stacked scan outputs), gradients against finite differences, and the refusals named.
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { checkVjp, expectSameOrtOutputs } from '../../../../test/vjp-check.js';
import { Rng } from '../../../core/random.js';
import { encodeModel } from '../grad/compile.js';
import { floatTensor, int64Tensor, intAttr, intsAttr, makeModel, node } from '../graph/build.js';
import { graphOf, onnx, type ModelProto } from '../graph/proto.js';
import { fromOnnx } from '../node.js';
import { unrollStaticLoops } from './unroll-loop.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(19);
const randn = (n: number) => Array.from({ length: n }, () => rng.normal());
const tensorType = (elemType: number, dims: (number | string)[] = []) => ({ tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } });
const T = onnx.TensorProto.DataType;

/** v ← tanh(v·W + 0.1·i) for i < trips; y = [v_final, the stacked v's as [n, trips, 3]] flattened. */
function looped(trips: string, cond: string, withCondition: boolean): ModelProto {
  const body = {
    name: 'body',
    node: [
      node('MatMul', ['v_in', 'w'], ['vw']),
      node('Cast', ['i'], ['fi'], [intAttr('to', T.FLOAT)]),
      node('Mul', ['fi', 'tenth'], ['step']),
      node('Add', ['vw', 'step'], ['pre']),
      node('Tanh', ['pre'], ['v_out']),
      node('Identity', ['cond_in'], ['cond_out']),
      node('Identity', ['v_out'], ['scan']),
    ],
    initializer: [floatTensor('tenth', [], [0.1])],
    input: [{ name: 'i', type: tensorType(T.INT64) }, { name: 'cond_in', type: tensorType(T.BOOL) }, { name: 'v_in', type: tensorType(T.FLOAT, ['n', 3]) }],
    output: [{ name: 'cond_out', type: tensorType(T.BOOL) }, { name: 'v_out', type: { tensorType: { elemType: T.FLOAT } } }, { name: 'scan', type: { tensorType: { elemType: T.FLOAT } } }],
  };
  const m = makeModel({
    nodes: [
      { ...node('Loop', [trips, withCondition ? cond : '', 'x'], ['v', 'scans']), attribute: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }] },
      node('Transpose', ['scans'], ['st'], [intsAttr('perm', [1, 0, 2])]),
      node('Flatten', ['st'], ['sf']),
      node('Concat', ['v', 'sf'], ['y'], [intAttr('axis', 1)]),
    ],
    inputs: [{ name: 'x', shape: ['n', 3] }],
    outputs: [{ name: 'y', shape: ['n', 12] }],
    initializers: [floatTensor('w', [3, 3], randn(9).map((v) => v * 0.6)), int64Tensor('three', [], [3])],
  });
  graphOf(m).initializer.push(onnx.TensorProto.fromObject({ name: 'yes', dims: [], dataType: T.BOOL, rawData: new Uint8Array([1]) }));
  return m;
}

describe('Loop with a constant trip count', () => {
  it.each([false, true])('unrolled: the same outputs as ONNX Runtime (condition passed through: %s), and gradients', async (withCondition) => {
    const m = looped('three', 'yes', withCondition);
    const { model: flat, unrolled } = unrollStaticLoops(m);
    expect(unrolled).toBe(1);
    expect(graphOf(flat).node.map((n) => n.opType)).not.toContain('Loop');
    await expectSameOrtOutputs(m, flat, randn(6), [2, 3]);
    await checkVjp(randn, m, [2, 3], [2, 12]);
  });

  it('a trip count computed at run time stays a Loop, refused by name', async () => {
    const m = looped('m', 'yes', false);
    const g = graphOf(m);
    g.node.unshift(onnx.NodeProto.fromObject(node('Shape', ['x'], ['shp'])), onnx.NodeProto.fromObject(node('ReduceMax', ['shp'], ['m'], [intAttr('keepdims', 0)])));
    expect(unrollStaticLoops(m).unrolled).toBe(0);
    const adapter = await fromOnnx(encodeModel(m));
    expect(adapter.capabilities.gradients).toBe(false);
    expect(adapter.gradientsUnavailable).toMatch(/op 'Loop'.*trip count computed at run time/);
    adapter.dispose();
  });
});
