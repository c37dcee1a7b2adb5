// The opset upgrade: ONNX Runtime gives the same outputs before and after, and the upgraded models
// differentiate (VJP against finite differences); what cannot be upgraded is refused by name.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { checkVjp, expectSameOrtOutputs } from '../../../../test/vjp-check.js';
import { Rng } from '../../../core/random.js';
import { encodeModel } from '../grad/compile.js';
import { floatAttr, floatTensor, intAttr, intsAttr, makeModel, node } from '../graph/build.js';
import { graphOf, onnx, type ModelProto } from '../graph/proto.js';
import { fromOnnx } from '../node.js';
import { upgradeOpset } from './upgrade.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(41);
const randn = (n: number, scale = 1) => Array.from({ length: n }, () => rng.normal() * scale);
const str = (name: string, value: string) => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) });
const floats = (name: string, values: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.FLOATS, floats: values });

/** Runs both models on the same random input and expects the same output. */
const sameOutputs = (before: ModelProto, after: ModelProto, shape: number[]) => expectSameOrtOutputs(before, after, randn(shape.reduce((a, b) => a * b, 1)), shape);

const io = (inShape: (number | string)[], outShape: (number | string)[]) => ({ inputs: [{ name: 'x', shape: inShape }], outputs: [{ name: 'y', shape: outShape }] });

describe('opset upgrade to 13', () => {
  it('opset 11: Split, Squeeze, Unsqueeze and ReduceSum axes attributes, Softmax and LogSoftmax 2-D coercion', async () => {
    const m = makeModel({
      nodes: [
        node('Split', ['x'], ['s0', 's1'], [intAttr('axis', 2), intsAttr('split', [1, 3])]),
        node('Unsqueeze', ['s1'], ['u'], [intsAttr('axes', [1])]), // [n, 1, 2, 3]
        node('Squeeze', ['u'], ['q'], [intsAttr('axes', [1])]),
        node('Softmax', ['q'], ['sm']), // axis 1 over the 2-D view [n, 2·3]
        node('LogSoftmax', ['x'], ['ls0'], [intAttr('axis', 2)]), // the last axis
        node('Softmax', ['ls0'], ['ls'], [intAttr('axis', -1)]), // negative: kept as is
        node('ReduceSum', ['ls'], ['rs'], [intsAttr('axes', [2]), intAttr('keepdims', 1)]),
        node('Mul', ['s0', 'rs'], ['p']),
        node('Flatten', ['sm'], ['f1']),
        node('Flatten', ['p'], ['f2']),
        node('Concat', ['f1', 'f2'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 2, 4], ['n', 8]),
      opset: 11,
    });
    const { model: up, report } = upgradeOpset(m);
    expect(report.rewritten).toEqual(expect.arrayContaining(['Split', 'Squeeze', 'Unsqueeze', 'Softmax', 'LogSoftmax', 'ReduceSum']));
    expect(up.opsetImport[0]!.version).toBe(13);
    await sameOutputs(m, up, [3, 2, 4]);
    await checkVjp(randn, m, [2, 2, 4], [2, 8]);
  });

  it('opset 9: Slice, Clip and Pad attributes, Dropout with ratio, Upsample nearest and linear', async () => {
    const m = makeModel({
      nodes: [
        node('Slice', ['x'], ['sl'], [intsAttr('starts', [1]), intsAttr('ends', [3]), intsAttr('axes', [3])]), // [n, 2, 4, 2]
        node('Clip', ['sl'], ['cl'], [floatAttr('min', -0.7), floatAttr('max', 0.9)]),
        node('Pad', ['cl'], ['pd'], [intsAttr('pads', [0, 0, 1, 0, 0, 0, 0, 1]), floatAttr('value', 0.25)]), // [n, 2, 5, 3]
        node('Dropout', ['pd'], ['dr'], [floatAttr('ratio', 0.3)]),
        node('Upsample', ['dr', 'sc'], ['un'], [str('mode', 'nearest')]), // [n, 2, 10, 6]
        node('Upsample', ['x', 'sc'], ['ul'], [str('mode', 'linear')]), // [n, 2, 8, 8]
        node('Flatten', ['un'], ['f1']),
        node('Flatten', ['ul'], ['f2']),
        node('Concat', ['f1', 'f2'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 2, 4, 4], ['n', 248]),
      initializers: [floatTensor('sc', [4], [1, 1, 2, 2])],
      opset: 9,
    });
    const { model: up, report } = upgradeOpset(m);
    expect(report.rewritten).toEqual(expect.arrayContaining(['Slice', 'Clip', 'Pad', 'Dropout', 'Upsample']));
    expect(graphOf(up).node.map((n) => n.opType)).not.toContain('Upsample');
    await sameOutputs(m, up, [2, 2, 4, 4]);
    await checkVjp(randn, m, [1, 2, 4, 4], [1, 248]);
  });

  it('opset 7: BatchNormalization with spatial, Upsample with scales as an attribute, shrinking nearest Resize-10', async () => {
    const c = 2;
    const m = makeModel({
      nodes: [
        node('BatchNormalization', ['x', 's', 'b', 'mu', 'v'], ['bn'], [intAttr('spatial', 1), floatAttr('epsilon', 1e-3)]),
        node('Upsample', ['bn'], ['y'], [str('mode', 'nearest'), floats('scales', [1, 1, 3, 2])]),
      ],
      ...io(['n', c, 2, 3], ['n', c, 6, 6]),
      initializers: [floatTensor('s', [c], [1.5, 0.5]), floatTensor('b', [c], [0.1, -0.2]), floatTensor('mu', [c], [0.3, 0]), floatTensor('v', [c], [2, 0.7])],
      opset: 7,
    });
    const { model: up } = upgradeOpset(m);
    await sameOutputs(m, up, [2, c, 2, 3]);
    await checkVjp(randn, m, [1, c, 2, 3], [1, c, 6, 6]);
    // Resize-10 shrinking by 0.5 (nearest: ceil of the asymmetric coordinate, as ORT's pre-11 kernel)
    const shrink = makeModel({ nodes: [node('Resize', ['x', 'sc'], ['y'], [str('mode', 'nearest')])], ...io([1, 1, 5, 6], [1, 1, 2, 3]), initializers: [floatTensor('sc', [4], [1, 1, 0.5, 0.5])], opset: 10 });
    await sameOutputs(shrink, upgradeOpset(shrink).model, [1, 1, 5, 6]);
  });

  it('upgrades If branches too (their new constants as Constant nodes); the If on a constant condition is then inlined and differentiates', async () => {
    const branch = (scale: number) => ({
      name: `b${scale}`,
      node: [node('Unsqueeze', ['x'], [`u${scale}`], [intsAttr('axes', [1])]), node('Squeeze', [`u${scale}`], [`q${scale}`], [intsAttr('axes', [1])]), node('Mul', [`q${scale}`, `k${scale}`], [`o${scale}`])],
      initializer: [floatTensor(`k${scale}`, [], [scale])],
      output: [{ name: `o${scale}`, type: { tensorType: { elemType: 1 } } }],
    });
    const m = makeModel({
      nodes: [{ ...node('If', ['cond'], ['h']), attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(3) }, { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(-2) }] }, node('Tanh', ['h'], ['y'])],
      ...io(['n', 3], ['n', 3]),
      opset: 11,
    });
    m.graph!.initializer!.push({ name: 'cond', dims: [], dataType: onnx.TensorProto.DataType.BOOL, rawData: new Uint8Array([0]) });
    const { model: up, report } = upgradeOpset(m);
    expect(report.rewritten).toEqual(expect.arrayContaining(['Squeeze', 'Unsqueeze']));
    const elseBranch = graphOf(up).node[0]!.attribute!.find((a) => a.name === 'else_branch')!.g!;
    expect(elseBranch.node!.filter((n) => n.opType === 'Constant').length).toBe(2);
    await sameOutputs(m, up, [2, 3]);
    await checkVjp(randn, m, [2, 3], [2, 3]);
  });

  it('refuses what it cannot upgrade, naming the op; the adapter stays forward-only with that reason', async () => {
    const scan = makeModel({ nodes: [node('Relu', ['x'], ['r']), node('Scan', ['r'], ['y'])], ...io(['n', 3], ['n', 3]), opset: 8 });
    expect(() => upgradeOpset(scan)).toThrowError(expect.objectContaining({ code: 'capability_missing', message: expect.stringMatching(/'Scan'.*opset 8 to 13/) }));
    const old = makeModel({ nodes: [node('Relu', ['x'], ['y'])], ...io(['n', 3], ['n', 3]), opset: 6 });
    expect(() => upgradeOpset(old)).toThrowError(/opset 6 is older/);
    const bn = makeModel({
      nodes: [node('BatchNormalization', ['x', 's', 's', 's', 's'], ['y'], [intAttr('spatial', 0)])],
      ...io(['n', 2], ['n', 2]),
      initializers: [floatTensor('s', [2], [1, 1])],
      opset: 7,
    });
    const adapter = await fromOnnx(encodeModel(bn));
    expect(adapter.capabilities.gradients).toBe(false);
    expect(adapter.gradientsUnavailable).toMatch(/'BatchNormalization'.*spatial = 0/);
    const y = await adapter.forward(tf.tensor2d([[1, 2]]));
    expect(y.shape).toEqual([1, 2]);
    y.dispose();
    adapter.dispose();
    // opset 13 and newer: the model itself, untouched
    const new13 = makeModel({ nodes: [node('Relu', ['x'], ['y'])], ...io(['n', 3], ['n', 3]) });
    expect(upgradeOpset(new13).model).toBe(new13);
  });
});
