import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataExamples, dataModel, dataNpy, wine, wineLds, wineLoo } from '../../test/data-reference.js';
import { auroc } from './evaluation.js';
import { Rng } from '../core/random.js';
import { floatTensor, intAttr, makeModel, node } from '../models/onnx/graph/build.js';
import { InfluenceFunctions } from './influence.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

const { train, test } = wine;

describe('InfluenceFunctions on the wine reference (README figures)', () => {
  it('logistic regression: exact influence vs leave-one-out Pearson 0.921, LDS 0.888', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const before = tf.memory().numTensors;
    using result = await new InfluenceFunctions(model, { l2: 0.01 }).attribute(train, test);
    expect(result.values.shape).toEqual([50, 128]);
    const scores = result.values.dataSync();
    const loo = wineLoo(scores);
    expect(Math.abs(loo.pearson - 0.921)).toBeLessThan(0.03);
    expect(Math.abs(loo.spearmanPerTest - 0.991)).toBeLessThan(0.03);
    const lds = { lds: wineLds(scores, 'lr') };
    expect(Math.abs(lds.lds - 0.888)).toBeLessThan(0.03);
    result.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('conjugate gradients and LiSSA agree with the exact solve', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const few = { x: { shape: [3, 13], data: test.x.data.slice(0, 39) }, y: { shape: [3], data: test.y.data.slice(0, 3) } };
    using exact = await new InfluenceFunctions(model, { l2: 0.01 }).attribute(train, few);
    using cg = await new InfluenceFunctions(model, { l2: 0.01, hessian: 'cg', cgTolerance: 1e-8 }).attribute(train, few);
    using lissa = await new InfluenceFunctions(model, { l2: 0.01, hessian: 'lissa' }).attribute(train, few);
    const a = exact.values.dataSync();
    const scale = Math.max(...Array.from(a, Math.abs));
    for (const other of [cg, lissa]) {
      const b = other.values.dataSync();
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!)).toBeLessThan(1e-4 * scale);
    }
  });

  it('LiSSA on seeded minibatches: the same seed gives the same scores, another seed others', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const one = { x: { shape: [1, 13], data: test.x.data.slice(0, 13) }, y: { shape: [1], data: test.y.data.slice(0, 1) } };
    const run = async (seed: number) => {
      using r = await new InfluenceFunctions(model, { l2: 0.01, hessian: 'lissa', lissa: { batchSize: 16, depth: 30, scale: 20 } }).attribute(train, one, { seed });
      return Array.from(r.values.dataSync());
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(await run(2)).not.toEqual(a);
  });

  it('MLP: influence with the exact Hessian reaches LDS 0.746', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    using result = await new InfluenceFunctions(model, { l2: 0.001 }).attribute(train, test);
    const lds = { lds: wineLds(result.values.dataSync(), 'mlp') };
    expect(Math.abs(lds.lds - 0.746)).toBeLessThan(0.03);
  }, 60_000);

  it('self-influence finds the flipped labels (AUROC ≥ 0.95; README 0.984)', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr-mislabel'));
    const self = await new InfluenceFunctions(model, { l2: 0.01 }).selfInfluence(dataExamples('train-mislabel'));
    expect(Math.min(...self)).toBeGreaterThan(0);
    const a = auroc(self, dataNpy('reference/mislabel-flipped.npy').data);
    expect(a).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(a - 0.984)).toBeLessThan(0.03);
  });
});

describe('influence with the MSE loss', () => {
  it('equals (1/n) g_iᵀ H⁻¹ g_j with H = (2/n) X̃ᵀX̃ + λI, g = 2(z − y) x̃, for linear regression', async () => {
    const rng = new Rng(3);
    const [n, d, lambda] = [12, 3, 0.05];
    const w = [0.4, -0.7, 0.2];
    const b = 0.1;
    using model = await OnnxTrainingModel.load(
      makeModel({
        nodes: [node('Gemm', ['x', 'w', 'b'], ['y'], [intAttr('transB', 1)])],
        inputs: [{ name: 'x', shape: ['n', d] }],
        outputs: [{ name: 'y', shape: ['n', 1] }],
        initializers: [floatTensor('w', [1, d], w), floatTensor('b', [1], [b])],
      }),
    );
    const x = Float32Array.from({ length: n * d }, () => rng.normal());
    const y = Float32Array.from({ length: n }, () => rng.normal());
    const set = { x: { shape: [n, d], data: x }, y: { shape: [n, 1], data: y } };
    using r = await new InfluenceFunctions(model, { l2: lambda, loss: 'mse' }).attribute(set, set);
    const scores = r.values.dataSync();
    // closed form in float64
    const xt = (i: number) => [x[i * d]!, x[i * d + 1]!, x[i * d + 2]!, 1];
    const theta = [...Float32Array.from(w), Math.fround(b)];
    const g = (i: number) => {
      const z = xt(i).reduce((s, v, k) => s + v * theta[k]!, 0);
      return xt(i).map((v) => 2 * (z - y[i]!) * v);
    };
    const h = Array.from({ length: 4 }, (_, r2) => Array.from({ length: 4 }, (_, c) => (r2 === c ? lambda : 0) + Array.from({ length: n }, (_, i) => (2 / n) * xt(i)[r2]! * xt(i)[c]!).reduce((a, v) => a + v, 0)));
    const solve = (v: number[]) => {
      const a = h.map((row, k) => [...row, v[k]!]);
      for (let c = 0; c < 4; c++) for (let r2 = c + 1; r2 < 4; r2++) {
        const f = a[r2]![c]! / a[c]![c]!;
        for (let k = c; k <= 4; k++) a[r2]![k]! -= f * a[c]![k]!;
      }
      const out = [0, 0, 0, 0];
      for (let r2 = 3; r2 >= 0; r2--) out[r2] = (a[r2]![4]! - [0, 1, 2, 3].filter((k) => k > r2).reduce((s, k) => s + a[r2]![k]! * out[k]!, 0)) / a[r2]![r2]!;
      return out;
    };
    for (const [i, j] of [[0, 0], [0, 5], [3, 7], [11, 2]] as const) {
      const u = solve(g(i));
      const want = u.reduce((s, v, k) => s + v * g(j)[k]!, 0) / n;
      expect(scores[i * n + j]!).toBeCloseTo(want, 5);
    }
  });
});

describe('LiSSA on a wider model', () => {
  // the power iteration that picks LiSSA's scale normalised v with ‖v‖ recomputed for every entry: p² work
  // per step (minutes at p = 40 000); it is 20 Hessian–vector products on 4 examples
  it('estimates its scale in time linear in the parameters (p = 40 000)', async () => {
    const rng = new Rng(9);
    const [d, k] = [4000, 10];
    using model = await OnnxTrainingModel.load(
      makeModel({ nodes: [node('Gemm', ['x', 'W'], ['y'], [intAttr('transB', 1)])], inputs: [{ name: 'x', shape: ['n', d] }], outputs: [{ name: 'y', shape: ['n', k] }], initializers: [floatTensor('W', [k, d], Array.from({ length: k * d }, () => rng.normal() * 0.01))] }),
    );
    const set = { x: { shape: [4, d], data: Float32Array.from({ length: 4 * d }, () => rng.normal()) }, y: { shape: [4], data: new Int32Array([0, 1, 2, 3]) } };
    const one = { x: { shape: [1, d], data: set.x.data.slice(0, d) }, y: { shape: [1], data: new Int32Array([0]) } };
    const t0 = Date.now();
    using r = await new InfluenceFunctions(model, { l2: 0.1, hessian: 'lissa', lissa: { depth: 2 } }).attribute(set, one);
    expect(r.values.shape).toEqual([1, 4]);
    expect(Date.now() - t0).toBeLessThan(8000);
  }, 15_000);
});
