// The MSE loss on a linear regression, where the Hessian is known in closed form.
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/random.js';
import { floatTensor, intAttr, makeModel, node } from '../models/onnx/graph/build.js';
import { InfluenceFunctions } from './influence.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

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
