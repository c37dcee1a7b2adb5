import { describe, expect, it } from 'vitest';
import { Rng } from '../core/random.js';
import { floatTensor, intAttr, makeModel, node } from '../models/onnx/graph/build.js';
import { forEachGradient, gradientMatrix, objectiveGradient } from './gradients.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

const rng = new Rng(11);
const randn = (n: number, s: number) => Array.from({ length: n }, () => rng.normal() * s);

/** A 5,110-parameter MLP: Gemm 40→100, Tanh, Gemm 100→10 (PyTorch layout). */
const mlp = () =>
  makeModel({
    nodes: [node('Gemm', ['x', 'W1', 'b1'], ['h'], [intAttr('transB', 1)]), node('Tanh', ['h'], ['a']), node('Gemm', ['a', 'W2', 'b2'], ['y'], [intAttr('transB', 1)])],
    inputs: [{ name: 'x', shape: ['n', 40] }],
    outputs: [{ name: 'y', shape: ['n', 10] }],
    initializers: [floatTensor('W1', [100, 40], randn(4000, 0.2)), floatTensor('b1', [100], randn(100, 0.1)), floatTensor('W2', [10, 100], randn(1000, 0.2)), floatTensor('b2', [10], randn(10, 0.1))],
  });

describe('per-example gradients', () => {
  it('1,000 examples of a 5,110-parameter MLP: batched, streamed, summed all agree (timed)', async () => {
    using model = await OnnxTrainingModel.load(mlp());
    expect(model.parameterCount).toBe(5110);
    const n = 1000;
    const set = { x: { shape: [n, 40], data: Float32Array.from(randn(n * 40, 1)) }, y: { shape: [n], data: Int32Array.from({ length: n }, (_, i) => i % 10) } };
    await gradientMatrix(model, { x: { shape: [4, 40], data: set.x.data.slice(0, 160) }, y: { shape: [4], data: set.y.data.slice(0, 4) } }, 'cross-entropy');
    const t0 = performance.now();
    const { grads } = await gradientMatrix(model, set, 'cross-entropy');
    const ms = performance.now() - t0;
    console.log(`per-example gradients, ${n} × ${model.parameterCount}: ${ms.toFixed(0)} ms (shared machine)`);
    expect(ms).toBeLessThan(20_000);
    // the same rows in batches of 37 give the same gradients, and their mean is ∇J − λθ
    const p = model.parameterCount;
    let worst = 0;
    await forEachGradient(model, set, 'cross-entropy', { batchSize: 37 }, (c) => {
      for (let k = 0; k < c.grads.length; k += 13) worst = Math.max(worst, Math.abs(c.grads[k]! - grads[c.start * p + k]!));
    });
    expect(worst).toBeLessThan(1e-12);
    const theta = model.theta();
    const mean = await objectiveGradient(model, set, 'cross-entropy', 0.5, theta);
    for (let k = 0; k < p; k += 101) {
      let s = 0;
      for (let i = 0; i < n; i++) s += grads[i * p + k]!;
      expect(mean[k]!).toBeCloseTo(s / n + 0.5 * theta[k]!, 10);
    }
  });
});
