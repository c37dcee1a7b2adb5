import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataModel, wine, wineLds, wineLoo } from '../../test/data-reference.js';
import { floatTensor, intAttr, makeModel, node } from '../models/onnx/graph/build.js';
import { InfluenceFunctions } from './influence.js';
import { OnnxTrainingModel } from './onnx/training-model.js';

const { train, test } = wine;

describe('influence with K-FAC / EK-FAC Hessians', () => {
  it('EK-FAC is exact when every training input is the same (the Gauss–Newton Hessian is then one Kronecker product)', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const same = { x: { shape: [6, 13], data: Float32Array.from({ length: 78 }, (_, k) => train.x.data[k % 13]!) }, y: { shape: [6], data: new Int32Array([0, 1, 2, 0, 1, 2]) } };
    // logistic regression: the Gauss–Newton Hessian is the exact Hessian
    using exact = await new InfluenceFunctions(model, { l2: 0.5 }).attribute(same, test);
    using ekfac = await new InfluenceFunctions(model, { l2: 0.5, hessian: 'ekfac' }).attribute(same, test);
    const [a, b] = [exact.values.dataSync(), ekfac.values.dataSync()];
    const scale = Math.max(...Array.from(a, Math.abs));
    for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!)).toBeLessThan(1e-4 * scale);
  });

  it('on the wine data: EK-FAC and K-FAC track the exact influence (LR LOO, MLP LDS)', async () => {
    using lr = await OnnxTrainingModel.load(dataModel('lr'));
    using mlp = await OnnxTrainingModel.load(dataModel('mlp'));
    const figures: Record<string, number> = {};
    for (const hessian of ['ekfac', 'kfac'] as const) {
      using r = await new InfluenceFunctions(lr, { l2: 0.01, hessian }).attribute(train, test);
      figures[`lr-loo-${hessian}`] = wineLoo(r.values.dataSync()).pearson;
      figures[`lr-lds-${hessian}`] = wineLds(r.values.dataSync(), 'lr');
      using q = await new InfluenceFunctions(mlp, { l2: 0.001, hessian }).attribute(train, test);
      figures[`mlp-lds-${hessian}`] = wineLds(q.values.dataSync(), 'mlp');
    }
    console.log(JSON.stringify(figures));
    expect(figures['lr-loo-ekfac']!).toBeGreaterThan(0.8);
    expect(figures['mlp-lds-ekfac']!).toBeGreaterThan(0.5);
  });
});

describe('K-FAC factor sizes', () => {
  // A is in × in per layer: a layer with 70 000 inputs asked for a 39 GB array (a RangeError, not a typed error)
  it('refuses factors over the host allocation cap before allocating them', async () => {
    const d = 70_000;
    using model = await OnnxTrainingModel.load(
      makeModel({ nodes: [node('Gemm', ['x', 'W'], ['y'], [intAttr('transB', 1)])], inputs: [{ name: 'x', shape: ['n', d] }], outputs: [{ name: 'y', shape: ['n', 2] }], initializers: [floatTensor('W', [2, d], new Array(2 * d).fill(0.001))] }),
    );
    const set = { x: { shape: [2, d], data: new Float32Array(2 * d) }, y: { shape: [2], data: new Int32Array([0, 1]) } };
    const err = await new InfluenceFunctions(model, { l2: 0.1, hessian: 'kfac' }).attribute(set, set).catch((e: { code?: string }) => e);
    expect(err).toMatchObject({ code: 'invalid_argument' });
  });
});
