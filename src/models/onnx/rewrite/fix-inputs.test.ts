// Inputs fixed at load, and Ifs decided by them: a model that switches on a scalar `sr`
// (as Silero VAD does) is differentiable once sr is fixed, with the gradients of the branch taken.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { isDifferentiable } from '../../model.js';
import { encodeModel } from '../grad/compile.js';
import { int64Tensor, intAttr, makeModel, node } from '../graph/build.js';
import { graphOf, onnx, type GraphProto } from '../graph/proto.js';
import { fromOnnx } from '../node.js';
import { foldSmall } from './fold-condition.js';
import { fixInputs } from './fix-inputs.js';
import { inlineStaticIfs } from './inline-if.js';

beforeAll(() => useBackend('wasm'));

const INT64 = onnx.TensorProto.DataType.INT64;
const branch = (name: string, op: string, nested?: GraphProto): GraphProto =>
  onnx.GraphProto.fromObject({
    name,
    node: nested ? [node('If', ['inner_cond'], [`${name}_y`], [{ name: 'then_branch', type: 5, g: nested }, { name: 'else_branch', type: 5, g: nested }])] : [node(op, ['x'], [`${name}_y`])],
    output: [{ name: `${name}_y`, type: { tensorType: { elemType: 1 } } }],
  });

/** y = If(Equal(Gather(Reshape(sr, [-1]), 0), 16000)) then (nested If on Not(cond): Sin, Cos) else Tanh of x. */
function switched() {
  const nested = onnx.GraphProto.fromObject({
    name: 'n',
    node: [node('If', ['notc'], ['n_y'], [{ name: 'then_branch', type: 5, g: branch('a', 'Sin') }, { name: 'else_branch', type: 5, g: branch('b', 'Cos') }])],
    output: [{ name: 'n_y', type: { tensorType: { elemType: 1 } } }],
  });
  return makeModel({
    nodes: [
      node('Reshape', ['sr', 'minus1'], ['srv']),
      node('Gather', ['srv', 'zero'], ['sr0'], [intAttr('axis', 0)]),
      node('Equal', ['sr0', 'k16000'], ['cond']),
      node('Not', ['cond'], ['notc']),
      node('If', ['cond'], ['y'], [{ name: 'then_branch', type: 5, g: nested }, { name: 'else_branch', type: 5, g: branch('t', 'Tanh') }]),
    ],
    inputs: [{ name: 'x', shape: ['batch', 3] }, { name: 'sr', shape: [], elemType: INT64 }],
    outputs: [{ name: 'y', shape: ['batch', 3] }],
    initializers: [int64Tensor('minus1', [1], [-1]), int64Tensor('zero', [], [0]), int64Tensor('k16000', [], [16000])],
  });
}

describe('inputs fixed at load', () => {
  it('folds the condition, inlines the If and the If in its branch; sr as a run-time input stays refused', async () => {
    const fixed = fixInputs(switched(), { sr: 16000 }, undefined, 'test');
    expect(graphOf(fixed).input.map((i) => i.name)).toEqual(['x']);
    const producers = new Map(graphOf(fixed).node.map((n) => [n.output![0]!, n]));
    const constants = new Map(graphOf(fixed).initializer.map((t) => [t.name!, t]));
    expect(foldSmall('cond', producers, constants)).toEqual({ dims: [], values: [1] });
    expect(foldSmall('notc', producers, constants)).toEqual({ dims: [], values: [0] });
    const { model, inlined } = inlineStaticIfs(fixed);
    expect(inlined).toBe(2);
    expect(graphOf(model).node.map((n) => n.opType)).not.toContain('If');
    expect(graphOf(model).node.map((n) => n.opType)).toContain('Cos');

    const free = await fromOnnx(encodeModel(switched()), { cacheDir: false, inputBatchAxes: { sr: null } });
    expect(free.gradientsUnavailable).toMatch(/op 'If' \(node 'y'\) has a condition known only at run time \(it reads input 'sr': fix it at load with constantInputs, CLI --constant-inputs sr=VALUE\)/);
    free.dispose();
    for (const [sr, f, df] of [[16000, Math.cos, (v: number) => -Math.sin(v)], [8000, Math.tanh, (v: number) => 1 - Math.tanh(v) ** 2]] as const) {
      const model = await fromOnnx(encodeModel(switched()), { cacheDir: false, constantInputs: { sr } });
      expect(isDifferentiable(model), model.gradientsUnavailable).toBe(true);
      if (!isDifferentiable(model)) continue;
      expect(model.inputNames).toEqual(['x']);
      const xs = [0.3, -1.2, 2];
      const x = tf.tensor2d(xs, [1, 3]);
      const y = await model.forward(x);
      Array.from(await y.data()).forEach((v, i) => expect(v).toBeCloseTo(f(xs[i]!), 5));
      const g = await model.gradients(x, (o) => tf.sum(o, 1));
      Array.from(await g.data()).forEach((v, i) => expect(v).toBeCloseTo(df(xs[i]!), 4));
      tf.dispose([x, y, g]);
      model.dispose();
    }
  });

  it('refuses unknown names, the attributed input, and values the shape does not hold, with invalid_argument', async () => {
    const m = switched();
    expect(() => fixInputs(m, { nope: 1 }, undefined, 'f')).toThrowError(expect.objectContaining({ code: 'invalid_argument', message: expect.stringMatching(/'nope', which is not an input of the model \(its inputs: x, sr\)/) }));
    expect(() => fixInputs(m, { x: [1, 2, 3] }, undefined, 'f')).toThrowError(/fixes 'x', the input attributions are computed for/);
    expect(() => fixInputs(m, { sr: [1, 2] }, undefined, 'f')).toThrowError(/shape \[\], which 2 value\(s\) do not fill/);
    expect(() => fixInputs(m, { sr: Number.NaN }, undefined, 'f')).toThrowError(/finite numbers/);
    await expect(fromOnnx(encodeModel(m), { cacheDir: false, constantInputs: { nope: 1 } })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
