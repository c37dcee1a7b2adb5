import { describe, expect, it } from 'vitest';
import { dataExamples, dataModel, dataNpy } from '../../../test/data-reference.js';
import { gradientMatrix } from '../gradients.js';
import { floatTensor, intAttr, makeModel, node } from '../../models/onnx/graph/build.js';
import { OnnxTrainingModel } from './training-model.js';

describe('OnnxTrainingModel', () => {
  it('reproduces the reference logits and the closed-form gradients of logistic regression', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    expect(model.parameterCount).toBe(42);
    expect(model.parameters.map((p) => p.name)).toEqual(['weight', 'bias']);
    const test = dataExamples('test');
    const { grads, value } = await gradientMatrix(model, test, 'cross-entropy');
    const logits = dataNpy('reference/lr-test-logits.npy').data;
    const theta = model.theta();
    // ∇_W ℓ = (p − onehot(y)) xᵀ, ∇_b ℓ = p − onehot(y), from the reference logits
    let worst = 0;
    for (let i = 0; i < 50; i++) {
      const z = [0, 1, 2].map((c) => logits[i * 3 + c]!);
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      const y = test.y.data[i]!;
      expect(value[i]!).toBeCloseTo(Math.log(s) + m - z[y]!, 5);
      for (let c = 0; c < 3; c++) {
        const r = e[c]! / s - (c === y ? 1 : 0);
        worst = Math.max(worst, Math.abs(grads[i * 42 + 39 + c]! - r));
        for (let k = 0; k < 13; k++) worst = Math.max(worst, Math.abs(grads[i * 42 + c * 13 + k]! - r * test.x.data[i * 13 + k]!));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    expect(theta.length).toBe(42);
  });

  it('gives the MLP gradients that central differences of its loss give', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    expect(model.parameterCount).toBe(13 * 32 + 32 + 32 * 3 + 3);
    const test = dataExamples('test');
    const one = { x: { shape: [1, 13], data: test.x.data.slice(0, 13) }, y: { shape: [1], data: test.y.data.slice(0, 1) } };
    const { grads } = await gradientMatrix(model, one, 'cross-entropy');
    const theta = model.theta();
    const lossAt = async (t: Float64Array) => (await gradientMatrix(model, one, 'cross-entropy', { theta: t })).value[0]!;
    for (const k of [0, 17, 420, 500, 546]) {
      const eps = 1e-5;
      const up = theta.slice();
      up[k]! += eps;
      const down = theta.slice();
      down[k]! -= eps;
      expect(grads[k]!).toBeCloseTo(((await lossAt(up)) - (await lossAt(down))) / (2 * eps), 7);
    }
  });

  it('stripSoftmax takes the loss on the logits under a final Softmax', async () => {
    const spec = (softmax: boolean) =>
      makeModel({
        nodes: [node('Gemm', ['x', 'W', 'b'], [softmax ? 'z' : 'y'], [intAttr('transB', 1)]), ...(softmax ? [node('Softmax', ['z'], ['y'], [intAttr('axis', -1)])] : [])],
        inputs: [{ name: 'x', shape: ['n', 2] }],
        outputs: [{ name: 'y', shape: ['n', 3] }],
        initializers: [floatTensor('W', [3, 2], [1, -1, 0.5, 2, -0.3, 0.1]), floatTensor('b', [3], [0.1, 0, -0.2])],
      });
    const set = { x: { shape: [2, 2], data: new Float32Array([0.3, -1, 2, 0.5]) }, y: { shape: [2], data: new Int32Array([1, 2]) } };
    using plain = await OnnxTrainingModel.load(spec(false));
    using stripped = await OnnxTrainingModel.load(spec(true), { stripSoftmax: true });
    using kept = await OnnxTrainingModel.load(spec(true));
    expect(stripped.outputName).toBe('z');
    expect(kept.outputName).toBe('y');
    const [a, b] = [await gradientMatrix(plain, set, 'cross-entropy'), await gradientMatrix(stripped, set, 'cross-entropy')];
    expect(Array.from(b.grads)).toEqual(Array.from(a.grads));
  });
});
