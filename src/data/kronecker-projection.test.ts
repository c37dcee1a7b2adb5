import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataModel, wine, wineLds } from '../../test/data-reference.js';
import { Rng } from '../core/random.js';
import { gradientMatrix } from './gradients.js';
import { KroneckerProjection } from './kronecker-projection.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { Trak } from './trak.js';

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
