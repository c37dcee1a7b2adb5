// TF.js graph models exported to ONNX: the same outputs as TF.js running the graph, and gradients
// that agree with central finite differences, on the committed fixtures (test/fixtures/graph/).
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { relError, ROOT } from '../../../../test/reference.js';
import { Rng } from '../../../core/random.js';
import { loadModel } from '../../../io/load-model.js';
import { isDifferentiable, type DifferentiableModel, type ModelAdapter } from '../../model.js';
import type { GraphModelAdapter } from '../../tfjs/graph-model.js';
import { fromOnnx } from '../node.js';
import { exportGraphModel } from './from-graph.js';

const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', 'graph', name, 'model.json');
const rng = new Rng(5);
const randn = (shape: number[], scale = 1) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale), shape);

beforeAll(() => useBackend('cpu'));

/** Central finite differences of Σ c ⊙ f(x) at the `k` inputs with the largest |analytic gradient|. */
async function finiteDifferences(model: ModelAdapter, x: tf.Tensor, c: tf.Tensor, grad: Float32Array, k: number, eps = 1e-2): Promise<{ fd: number[]; an: number[] }> {
  const base = Float32Array.from(await x.data());
  const order = Array.from(grad.keys()).sort((a, b) => Math.abs(grad[b]!) - Math.abs(grad[a]!)).slice(0, k);
  const f = async (v: Float32Array) => {
    const xt = tf.tensor(v, x.shape);
    const y = await model.forward(xt);
    const s = tf.tidy(() => tf.sum(tf.mul(y, c)).dataSync()[0]!);
    tf.dispose([xt, y]);
    return s;
  };
  const fd: number[] = [];
  for (const i of order) {
    const [p, m] = [base.slice(), base.slice()];
    p[i]! += eps;
    m[i]! -= eps;
    fd.push(((await f(p)) - (await f(m))) / (2 * eps));
  }
  return { fd, an: order.map((i) => grad[i]!) };
}

describe('exportGraphModel', () => {
  it.each([
    ['cnn', [3, 12, 12, 3]],
    ['ops', [3, 8, 8, 2]],
    ['dilated', [2, 9, 9, 2]],
    ['more', [3, 6, 4]],
  ] as const)('%s: ONNX Runtime gives the TF.js outputs (1e-4) and gradients that agree with finite differences', async (name, shape) => {
    const tfModel = (await loadModel(fixture(name), { engine: 'tfjs' })) as GraphModelAdapter;
    const before = tf.memory().numTensors;
    const exp = exportGraphModel(tfModel);
    expect(tf.memory().numTensors).toBe(before);
    const onnxModel = (await fromOnnx(exp.bytes, { name })) as DifferentiableModel;
    expect(onnxModel.capabilities.gradients).toBe(true);
    const x = randn([...shape]);
    const [a, b] = [await tfModel.forward(x), await onnxModel.forward(x)];
    expect(b.shape).toEqual(a.shape);
    expect(await relError(b, Array.from(await a.data()), a.shape)).toBeLessThan(1e-4);
    const c = randn(a.shape);
    const objective = (o: tf.Tensor) => tf.sum(tf.reshape(tf.mul(o, c), [o.shape[0]!, -1]), 1);
    const g = await onnxModel.gradients(x, objective);
    if (isDifferentiable(tfModel)) {
      // TF.js cpu differentiates this graph itself: the same gradients (1e-4)
      const ref = await tfModel.gradients(x, objective);
      expect(await relError(g, Array.from(await ref.data()), ref.shape)).toBeLessThan(1e-4);
      ref.dispose();
    }
    // a step of 1e-3 on 'more', whose Min, ClipByValue and Floor kinks lie closer to its inputs
    const { fd, an } = await finiteDifferences(tfModel, x, c, Float32Array.from(await g.data()), 12, name === 'more' ? 1e-3 : 1e-2);
    const rel = fd.map((v, i) => Math.abs(v - an[i]!) / Math.max(Math.abs(an[i]!), 1e-3));
    rel.sort((p, q) => p - q);
    expect(rel[Math.floor(rel.length / 2)]!).toBeLessThan(1e-2);
    expect(rel[rel.length - 1]!).toBeLessThan(1e-1);
    tf.dispose([a, b, c, g, x]);
    onnxModel.dispose();
    tfModel.dispose();
  });

  it('refuses an op without export, naming node and op, before any work; numTensors unchanged', async () => {
    const tfModel = (await loadModel(fixture('atan'), { engine: 'tfjs' })) as GraphModelAdapter;
    const before = tf.memory().numTensors;
    expect(() => exportGraphModel(tfModel)).toThrow(expect.objectContaining({ code: 'capability_missing', details: { node: 'atan', op: 'Atan' } }));
    expect(() => exportGraphModel(tfModel, { opset: 13 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(tf.memory().numTensors).toBe(before);
    tfModel.dispose();
  });

  it('writes each op node as an ONNX tensor of the same name, with the TF.js shape', async () => {
    const tfModel = (await loadModel(fixture('cnn'), { engine: 'tfjs' })) as GraphModelAdapter;
    const exp = exportGraphModel(tfModel);
    expect(exp.layers.get('pool1/MaxPool')).toBe('MaxPool');
    expect(exp.layerShapes.get('pool1/MaxPool')).toEqual([null, 6, 6, 6]);
    expect(exp.layerShapes.get('flatten/Reshape')).toEqual([null, 32]);
    // shape arithmetic is folded, not written: Shape/StridedSlice/Pack of the flatten are no hook points
    expect([...exp.layers.keys()]).not.toContain('flatten/Shape');
    tfModel.dispose();
  });

  it('loadModel moves a graph model to ONNX Runtime and releases its TF.js weights (numTensors unchanged)', async () => {
    const before = tf.memory().numTensors;
    const model = await loadModel(fixture('dilated'));
    expect(model.engine).toBe('onnx');
    expect(tf.memory().numTensors).toBe(before);
    const x = randn([2, 9, 9, 2]);
    const y = await (model as DifferentiableModel).forward(x);
    expect(y.shape).toEqual([2, 2]);
    tf.dispose([x, y]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
