// Memory bounded by a stated budget independent of the training-set size: every method streams the
// training set in gradient batches of at most `batchBytes`, whatever n is.
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { dataExamples, dataModel } from '../../test/data-reference.js';
import type { Examples } from './loss.js';
import { GradientSimilarity } from './grad-similarity.js';
import { InfluenceFunctions } from './influence.js';
import { Magic } from './magic.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { Trak } from './trak.js';

const wine = dataExamples('train');
const test = dataExamples('test');
const few = { x: { shape: [4, 13], data: test.x.data.slice(0, 52) }, y: { shape: [4], data: test.y.data.slice(0, 4) } };

/** The wine training set repeated `times` times. */
function tiled(times: number): Examples {
  const n = 128 * times;
  const x = new Float32Array(n * 13);
  const y = new Int32Array(n);
  for (let t = 0; t < times; t++) x.set(wine.x.data, t * 128 * 13), y.set(wine.y.data, t * 128);
  return { x: { shape: [n, 13], data: x }, y: { shape: [n], data: y } };
}

/** Runs `f` with the model's gradient calls spied on; returns the largest per-example gradient block (bytes) one call produced. */
async function peakGradientBytes(model: OnnxTrainingModel, f: () => Promise<unknown>): Promise<number> {
  const [gradients, layerFactors] = [model.gradients.bind(model), model.layerFactors.bind(model)];
  let peak = 0;
  model.gradients = async (x, rows, cotangent, opts = {}) => {
    const r = await gradients(x, rows, cotangent, opts);
    peak = Math.max(peak, r.grads.byteLength);
    return r;
  };
  model.layerFactors = async (x, rows, cotangents, theta) => {
    const r = await layerFactors(x, rows, cotangents, theta);
    // what a batch of K-FAC factors holds: the layers' inputs and every cotangent set
    peak = Math.max(peak, [...r.inputs, ...r.cotangents.flat()].reduce((a, t) => a + t.byteLength, 0));
    return r;
  };
  try {
    await f();
  } finally {
    (model.gradients = gradients), (model.layerFactors = layerFactors);
  }
  return peak;
}

describe('streaming the training set under a memory budget', () => {
  it('the largest gradient batch a method holds stays within batchBytes and does not grow with n (128 → 512)', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const p = model.parameterCount; // 42
    const batchBytes = 16 * 8 * p; // 16 rows of gradients
    const methods: [string, (train: Examples) => Promise<unknown>][] = [
      ['grad-dot', (t) => new GradientSimilarity(model).attribute(t, few, { batchBytes })],
      ['influence exact', (t) => new InfluenceFunctions(model, { l2: 0.01 }).attribute(t, few, { batchBytes })],
      ['influence ekfac', (t) => new InfluenceFunctions(model, { l2: 0.01, hessian: 'ekfac' }).attribute(t, few, { batchBytes })],
      ['trak', (t) => new Trak(model, { l2: 0.01, projectionDim: 16, seed: 1 }).attribute(t, few, { batchBytes })],
      ['magic', (t) => new Magic(model, { steps: 2, learningRate: 0.1, l2: 0.01 }).attribute(t, few, { batchBytes })],
    ];
    for (const [name, run] of methods) {
      const small = await peakGradientBytes(model, () => run(tiled(1)).then((r) => (r as Disposable)[Symbol.dispose]()));
      const large = await peakGradientBytes(model, () => run(tiled(4)).then((r) => (r as Disposable)[Symbol.dispose]()));
      expect(small, name).toBeGreaterThan(0);
      expect(large, name).toBe(small);
      expect(large, name).toBeLessThanOrEqual(batchBytes);
    }
  });

  it('the budget changes how the set is batched, not the scores; a bad budget is refused', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    using whole = await new InfluenceFunctions(model, { l2: 0.01 }).attribute(wine, few);
    using small = await new InfluenceFunctions(model, { l2: 0.01 }).attribute(wine, few, { batchBytes: 8 * 42 * 5 }); // 5 rows a batch
    const [a, b] = [whole.values.dataSync(), small.values.dataSync()];
    for (let k = 0; k < a.length; k++) expect(b[k]!).toBeCloseTo(a[k]!, 6);
    await expect(new GradientSimilarity(model).attribute(wine, few, { batchBytes: 0 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'batchBytes' } });
  });

  it('the long runs (MAGIC, LiSSA, EK-FAC) report progress and stop on abort between batches', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const runs: [string, (o: { signal: AbortSignal; onProgress: () => void }) => Promise<unknown>][] = [
      ['magic', (o) => new Magic(model, { steps: 50, learningRate: 0.1 }).attribute(wine, few, { ...o, batchSize: 32 })],
      ['lissa', (o) => new InfluenceFunctions(model, { l2: 0.01, hessian: 'lissa' }).attribute(wine, few, { ...o, batchSize: 32 })],
      ['ekfac', (o) => new InfluenceFunctions(model, { l2: 0.01, hessian: 'ekfac' }).attribute(wine, few, { ...o, batchSize: 32 })],
    ];
    for (const [name, run] of runs) {
      const ac = new AbortController();
      let events = 0;
      const err = await run({ signal: ac.signal, onProgress: () => (events++, ac.abort()) }).then(() => undefined, (e: unknown) => e);
      expect(err, name).toMatchObject({ code: 'aborted' });
      expect(events, name).toBeGreaterThan(0);
    }
  });
});
