// The README recipe on other data of another size: a logistic regression on 1,000 generated training
// examples (12 correlated, heavy-tailed features, 3 classes, 10 % of the labels flipped at random; the
// inputs rounded to float32, what the model reads), trained and retrained leave-one-out by an
// independent float64 Newton solver written here.
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { pearson } from '../core/linalg.js';
import { Rng } from '../core/random.js';
import { floatTensor, intAttr, makeModel, node } from '../models/onnx/graph/build.js';
import { InfluenceFunctions } from './influence.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

const [D, C, N, M, LAMBDA, FLIP] = [12, 3, 1000, 40, 0.01, 0.1];
const P = C * D + C; // weight [C, D] (PyTorch layout) then bias [C]

/** x = A z / s with z ~ N(0, I) and s² ~ χ²₅/5 (correlated, Student-t tails); y drawn from the true softmax, then flipped with probability FLIP. */
function dataset(rng: Rng, n: number, truth: Float64Array, mix: Float64Array) {
  const x = new Float64Array(n * D);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const g = Array.from({ length: D }, () => rng.normal());
    const chi = Math.sqrt(Array.from({ length: 5 }, () => rng.normal() ** 2).reduce((a, b) => a + b, 0) / 5);
    for (let k = 0; k < D; k++) x[i * D + k] = Math.fround(g.reduce((a, v, l) => a + mix[k * D + l]! * v, 0) / chi);
    const z = Array.from({ length: C }, (_, c) => truth[C * D + c]! + Array.from({ length: D }, (_, k) => truth[c * D + k]! * x[i * D + k]!).reduce((a, b) => a + b, 0));
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const s = e.reduce((a, b) => a + b, 0);
    let u = rng.next() * s;
    y[i] = C - 1;
    for (let c = 0; c < C; c++) if ((u -= e[c]!) < 0) (y[i] = c), (c = C);
    if (rng.next() < FLIP) y[i] = (y[i]! + 1 + rng.int(C - 1)) % C;
  }
  return { x, y };
}

/** Softmax probabilities and loss of example i. */
function probs(theta: Float64Array, x: Float64Array, i: number): number[] {
  const z = Array.from({ length: C }, (_, c) => {
    let s = theta[C * D + c]!;
    for (let k = 0; k < D; k++) s += theta[c * D + k]! * x[i * D + k]!;
    return s;
  });
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
const lossAt = (theta: Float64Array, x: Float64Array, y: Int32Array, i: number) => -Math.log(probs(theta, x, i)[y[i]!]!);
const idx = (c: number, k: number) => (k < D ? c * D + k : C * D + c);

/** Newton's method on mean cross-entropy over `keep` + (λ/2)‖θ‖², from `start`, to ‖∇J‖ < 1e-12. */
function newton(x: Float64Array, y: Int32Array, keep: (i: number) => boolean, start: Float64Array): Float64Array {
  const theta = start.slice();
  const n = y.filter((_, i) => keep(i)).length;
  for (let it = 0; it < 50; it++) {
    const g = theta.map((t) => LAMBDA * t);
    const h = new Float64Array(P * P);
    for (let q = 0; q < P; q++) h[q * P + q] = LAMBDA;
    for (let i = 0; i < y.length; i++) {
      if (!keep(i)) continue;
      const p = probs(theta, x, i);
      const xt = [...x.subarray(i * D, (i + 1) * D), 1];
      for (let c = 0; c < C; c++) {
        for (let k = 0; k <= D; k++) g[idx(c, k)]! += ((p[c]! - (c === y[i] ? 1 : 0)) * xt[k]!) / n;
        for (let c2 = 0; c2 < C; c2++) {
          const lam = (c === c2 ? p[c]! : 0) - p[c]! * p[c2]!;
          for (let k = 0; k <= D; k++) for (let k2 = 0; k2 <= D; k2++) h[idx(c, k) * P + idx(c2, k2)]! += (lam * xt[k]! * xt[k2]!) / n;
        }
      }
    }
    if (Math.hypot(...g) < 1e-12) break;
    // solve H s = g by Gaussian elimination
    const a = Array.from({ length: P }, (_, r) => [...h.subarray(r * P, (r + 1) * P), g[r]!]);
    for (let col = 0; col < P; col++) {
      for (let r = col + 1; r < P; r++) {
        const f = a[r]![col]! / a[col]![col]!;
        for (let c = col; c <= P; c++) a[r]![c]! -= f * a[col]![c]!;
      }
    }
    const s = new Float64Array(P);
    for (let r = P - 1; r >= 0; r--) {
      let v = a[r]![P]!;
      for (let c = r + 1; c < P; c++) v -= a[r]![c]! * s[c]!;
      s[r] = v / a[r]![r]!;
    }
    for (let q = 0; q < P; q++) theta[q]! -= s[q]!;
  }
  return theta;
}

describe('influence on held-out data of another size (1,000 training examples)', () => {
  it('exact influence vs leave-one-out retraining: Pearson ≥ 0.95', async () => {
    const rng = new Rng(2024);
    const truth = Float64Array.from({ length: P }, () => rng.normal() * 0.8);
    const mix = Float64Array.from({ length: D * D }, (_, q) => (q % (D + 1) === 0 ? 1 : 0) + rng.normal() * 0.3);
    const train = dataset(rng, N, truth, mix);
    const test = dataset(rng, M, truth, mix);
    const star = newton(train.x, train.y, () => true, new Float64Array(P));
    const onnx = makeModel({
      nodes: [node('Gemm', ['input', 'weight', 'bias'], ['logits'], [intAttr('transB', 1)])],
      inputs: [{ name: 'input', shape: ['n', D] }],
      outputs: [{ name: 'logits', shape: ['n', C] }],
      initializers: [floatTensor('weight', [C, D], star.subarray(0, C * D)), floatTensor('bias', [C], star.subarray(C * D))],
    });
    using model = await OnnxTrainingModel.load(onnx);
    const ex = (s: { x: Float64Array; y: Int32Array }, n: number) => ({ x: { shape: [n, D], data: Float32Array.from(s.x) }, y: { shape: [n], data: s.y } });
    using result = await new InfluenceFunctions(model, { l2: LAMBDA }).attribute(ex(train, N), ex(test, M));
    const scores = result.values.dataSync();
    const removed = Array.from({ length: 12 }, (_, k) => k * 83);
    const predicted: number[] = [];
    const actual: number[] = [];
    for (const j of removed) {
      const loo = newton(train.x, train.y, (i) => i !== j, star);
      for (let i = 0; i < M; i++) {
        predicted.push(scores[i * N + j]!);
        actual.push(lossAt(loo, test.x, test.y, i) - lossAt(star, test.x, test.y, i));
      }
    }
    const r = pearson(predicted, actual);
    console.log(`1,000 examples: exact influence vs LOO Pearson ${r.toFixed(4)} over ${predicted.length} pairs`);
    expect(r).toBeGreaterThanOrEqual(0.95);
  });
});
