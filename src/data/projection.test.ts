import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataModel, wine, wineLds } from '../../test/data-reference.js';
import { Rng } from '../core/random.js';
import { gradientMatrix } from './gradients.js';
import { KroneckerProjection } from './kronecker-projection.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { RandomProjection } from './projection.js';
import { Trak } from './trak.js';

describe('RandomProjection', () => {
  const rng = new Rng(1);
  const x = Float64Array.from({ length: 3 * 600 }, () => rng.normal());

  it('is a function of the seed only: same seed same P, rows projected alone or together agree', () => {
    const a = new RandomProjection(600, 50, 9).project(x, 3);
    const b = new RandomProjection(600, 50, 9);
    const rowWise = [0, 1, 2].flatMap((r) => Array.from(b.project(x.slice(r * 600, (r + 1) * 600), 1)));
    expect(Array.from(a)).toEqual(rowWise);
    expect(Array.from(new RandomProjection(600, 50, 10).project(x, 3))).not.toEqual(Array.from(a));
  });

  it('keeps squared norms in expectation (JL), Rademacher and Gaussian', () => {
    for (const kind of ['rademacher', 'gaussian'] as const) {
      const p = new RandomProjection(600, 400, 2, kind).project(x, 3);
      for (let r = 0; r < 3; r++) {
        let nx = 0;
        let np = 0;
        for (let k = 0; k < 600; k++) nx += x[r * 600 + k]! ** 2;
        for (let k = 0; k < 400; k++) np += p[r * 400 + k]! ** 2;
        expect(Math.abs(np / nx - 1)).toBeLessThan(0.25);
      }
    }
  });

  it('regenerates blocks when P does not fit the cache, with the same values', () => {
    const big = new RandomProjection(5000, 1000, 4); // 5e6 entries > cache
    const y = Float64Array.from({ length: 5000 }, (_, k) => (k % 7) - 3);
    expect(Array.from(big.project(y, 1))).toEqual(Array.from(big.project(y, 1)));
  });
});

describe('KroneckerProjection (LoGra)', () => {
  it('is (P_S ⊗ P_A) vec G per layer: linear, seeded, and norm-preserving in expectation', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    const proj = new KroneckerProjection(model.layers, model.parameterCount, 8, 5);
    expect(proj.outputDim).toBe(8 * 8 + 3 * 8); // layer 1: 8 × 8 of 32 × 14; layer 2: 3 × 8 of 3 × 33
    const { grads } = await gradientMatrix(model, wine.test, 'cross-entropy');
    const p = model.parameterCount;
    const a = proj.project(grads.subarray(0, 2 * p), 2);
    const sum = proj.project(grads.subarray(0, p).map((v, k) => 2 * v - 3 * grads[p + k]!), 1);
    for (let k = 0; k < proj.outputDim; k++) expect(sum[k]!).toBeCloseTo(2 * a[k]! - 3 * a[proj.outputDim + k]!, 8);
    expect(Array.from(new KroneckerProjection(model.layers, p, 8, 5).project(grads.subarray(0, p), 1))).toEqual(Array.from(a.subarray(0, proj.outputDim)));
    // E‖Px‖² = ‖x‖² over seeds, for the last layer's gradient alone
    const rng = new Rng(1);
    const x = new Float64Array(p);
    for (let k = 448; k < p; k++) x[k] = rng.normal();
    const norm2 = x.reduce((s, v) => s + v * v, 0);
    let mean = 0;
    for (let seed = 0; seed < 200; seed++) mean += new KroneckerProjection(model.layers, p, 3, seed).project(x, 1).reduce((s, v) => s + v * v, 0) / 200;
    expect(Math.abs(mean / norm2 - 1)).toBeLessThan(0.15);
  });

  it('TRAK with Kronecker features on the wine MLP', async () => {
    using model = await OnnxTrainingModel.load(dataModel('mlp'));
    using r = await new Trak(model, { l2: 0.001, projection: 'kronecker', projectionDim: 16, seed: 1 }).attribute(wine.train, wine.test);
    const lds = wineLds(r.values.dataSync(), 'mlp');
    console.log(`TRAK, Kronecker projection 16 per side: LDS ${lds.toFixed(3)}`);
    expect(lds).toBeGreaterThan(0.3);
  });
});
