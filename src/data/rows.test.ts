// The training set as a row source: the same scores from memory and from .npy files read a block of rows
// at a time, and training rows held at once that do not grow with n at a fixed budget.
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { dataExamples, dataModel } from '../../test/data-reference.js';
import { encodeNpy } from '../io/npy.js';
import { NpyRowReader } from '../io/npy-rows.js';
import type { DataAttribution } from '../core/result.js';
import { GradientSimilarity } from './grad-similarity.js';
import { InfluenceFunctions } from './influence.js';
import type { Examples } from './loss.js';
import { Magic } from './magic.js';
import { OnnxTrainingModel } from './onnx/training-model.js';
import { memoryRows, pairedRows, type TrainingRows, type TrainingSet } from './rows.js';
import { TracIn } from './tracin.js';
import { Trak } from './trak.js';

const dir = mkdtempSync(path.join(tmpdir(), 'attrib-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const wine = dataExamples('train');
const test = dataExamples('test');
const two = { x: { shape: [2, 13], data: test.x.data.slice(0, 26) }, y: { shape: [2], data: test.y.data.slice(0, 2) } };
const few = { x: { shape: [6, 13], data: test.x.data.slice(0, 78) }, y: { shape: [6], data: test.y.data.slice(0, 6) } };

/** The wine training set repeated `times` times, with `edit` applied to its arrays. */
function tiled(times: number, edit: (x: Float32Array, y: Int32Array) => void = () => undefined): Examples {
  const n = 128 * times;
  const x = new Float32Array(n * 13);
  const y = new Int32Array(n);
  for (let t = 0; t < times; t++) x.set(wine.x.data, t * 128 * 13), y.set(wine.y.data, t * 128);
  edit(x, y);
  return { x: { shape: [n, 13], data: x }, y: { shape: [n], data: y } };
}

/** `set` written to two .npy files and opened as a row source (`close` releases the files). */
async function fileRows(set: Examples, name: string): Promise<{ rows: TrainingRows; readers: NpyRowReader[]; close: () => Promise<void> }> {
  const write = (f: string, t: { shape: readonly number[]; data: ArrayLike<number> }, dtype: 'float32' | 'int32') => {
    const at = path.join(dir, f);
    writeFileSync(at, encodeNpy({ shape: [...t.shape], dtype, data: dtype === 'int32' ? Int32Array.from(t.data) : Float32Array.from(t.data) }));
    return at;
  };
  const x = await NpyRowReader.open(write(`${name}-x.npy`, set.x, 'float32'));
  const y = await NpyRowReader.open(write(`${name}-y.npy`, set.y, 'int32'));
  return { rows: pairedRows(x, y), readers: [x, y], close: async () => void (await Promise.all([x.close(), y.close()])) };
}

/** `rows` with every block it hands out measured: the largest block's bytes (inputs + targets, float64). */
function measured(rows: TrainingRows): { rows: TrainingRows; peak: () => number } {
  let peak = 0;
  return {
    rows: {
      ...rows,
      read: async (start, end) => {
        const b = await rows.read(start, end);
        peak = Math.max(peak, b.x.byteLength + b.y.byteLength);
        return b;
      },
    },
    peak: () => peak,
  };
}

const values = async (r: Promise<DataAttribution | Float64Array>): Promise<number[]> => {
  const v = await r;
  if (v instanceof Float64Array) return Array.from(v);
  try {
    return Array.from(v.values.dataSync());
  } finally {
    v.dispose();
  }
};

describe('training rows from memory or from files', () => {
  it('every method gives bitwise the same scores from in-memory examples, memoryRows and .npy files', async () => {
    using lr = await OnnxTrainingModel.load(dataModel('lr'));
    using mlp = await OnnxTrainingModel.load(dataModel('mlp'));
    const files = await fileRows(wine, 'wine');
    const before = tf.memory().numTensors;
    try {
      const o = { batchSize: 24 }; // several blocks, the last one short
      const runs: [string, (t: TrainingSet) => Promise<DataAttribution | Float64Array>][] = [
        ['grad-dot', (t) => new GradientSimilarity(mlp).attribute(t, few, o)],
        ['grad-cos projected', (t) => new GradientSimilarity(mlp, 'grad-cos', { projectionDim: 8, seed: 3 }).attribute(t, few, o)],
        ['tracin', (t) => new TracIn([lr, lr], { learningRates: [0.5, 1] }).attribute(t, few, o)],
        ['trak primal', (t) => new Trak(mlp, { l2: 0.01, projectionDim: 16, seed: 1 }).attribute(t, few, o)],
        ['trak dual', (t) => new Trak(lr, { l2: 0.01 }).attribute(tiledHead(t), few, o)],
        ['influence exact', (t) => new InfluenceFunctions(lr, { l2: 0.01 }).attribute(t, few, o)],
        ['influence cg', (t) => new InfluenceFunctions(lr, { l2: 0.01, hessian: 'cg', cgIterations: 5 }).attribute(t, few, o)],
        ['influence ekfac', (t) => new InfluenceFunctions(mlp, { l2: 0.01, hessian: 'ekfac' }).attribute(t, few, o)],
        ['influence lissa minibatch', (t) => new InfluenceFunctions(lr, { l2: 0.01, hessian: 'lissa', seed: 2, lissa: { depth: 4, batchSize: 16, scale: 10 } }).attribute(t, few, o)],
        ['self-influence', (t) => new InfluenceFunctions(lr, { l2: 0.01 }).selfInfluence(t, o)],
        ['magic', (t) => new Magic(lr, { steps: 3, learningRate: 0.1, l2: 0.01 }).attribute(t, few, o)],
      ];
      for (const [name, run] of runs) {
        const fromMemory = await values(run(wine));
        expect(fromMemory.every(Number.isFinite), name).toBe(true);
        expect(await values(run(memoryRows(wine))), name).toEqual(fromMemory);
        expect(await values(run(files.rows)), name).toEqual(fromMemory);
      }
    } finally {
      await files.close();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the training rows held at once do not grow with n at a fixed budget (128 → 512 rows), in the source and in the file reader', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const p = model.parameterCount; // 42
    const rowBytes = (13 + 1) * 8; // one row of inputs and its class id, float64
    const batchBytes = 16 * (8 * p + rowBytes); // 16 rows a batch: their gradients, inputs and targets
    const methods: [string, (t: TrainingSet) => Promise<DataAttribution | Float64Array>][] = [
      ['grad-dot', (t) => new GradientSimilarity(model).attribute(t, two, { batchBytes })],
      ['influence ekfac', (t) => new InfluenceFunctions(model, { l2: 0.01, hessian: 'ekfac' }).attribute(t, two, { batchBytes })],
      ['self-influence', (t) => new InfluenceFunctions(model, { l2: 0.01, hessian: 'kfac' }).selfInfluence(t, { batchBytes })],
      ['trak', (t) => new Trak(model, { l2: 0.01, projectionDim: 16, seed: 1 }).attribute(t, two, { batchBytes })],
      ['magic', (t) => new Magic(model, { steps: 2, learningRate: 0.1, l2: 0.01 }).attribute(t, two, { batchBytes })],
    ];
    const sets = [await fileRows(tiled(1), 'n128'), await fileRows(tiled(4), 'n512')];
    try {
      for (const [name, run] of methods) {
        const peaks = [];
        for (const s of sets) {
          const m = measured(s.rows);
          s.readers.forEach((r) => (r.peakBytes = 0));
          await values(run(m.rows));
          peaks.push({ source: m.peak(), files: s.readers.reduce((a, r) => a + r.peakBytes, 0) });
        }
        expect(peaks[0]!.source, name).toBe(16 * rowBytes);
        expect(peaks[1], name).toEqual(peaks[0]);
        expect(peaks[1]!.files, name).toBe(16 * (13 * 4 + 13 * 8) + 16 * (4 + 8)); // file bytes + float64 copy of one block
      }
    } finally {
      for (const s of sets) await s.close();
    }
  });

  it('a file source is checked block by block: a bad value far into the file is reported by its example index', async () => {
    using model = await OnnxTrainingModel.load(dataModel('lr'));
    const cases: [string, Examples, object][] = [
      ['label', tiled(2, (_, y) => (y[200] = 3)), { code: 'invalid_argument', details: { arg: 'train.y', index: 200 } }],
      ['NaN', tiled(2, (x) => (x[150 * 13 + 4] = NaN)), { code: 'invalid_argument', details: { arg: 'train.x', index: 150 } }],
    ];
    for (const [name, set, error] of cases) {
      const files = await fileRows(set, `bad-${name}`);
      try {
        await expect(new GradientSimilarity(model).attribute(files.rows, few, { batchSize: 32 }), name).rejects.toMatchObject(error);
        await expect(new GradientSimilarity(model).attribute(set, few), name).rejects.toMatchObject(error);
      } finally {
        await files.close();
      }
    }
    const x = await NpyRowReader.open(path.join(dir, 'n128-x.npy'));
    const y = await NpyRowReader.open(path.join(dir, 'wine-y.npy'));
    const short = { shape: [50], readRows: y.readRows.bind(y) };
    try {
      expect(() => pairedRows(x, short)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
      const wide = await fileRows({ x: { shape: [128, 1, 13], data: wine.x.data }, y: wine.y }, 'wide');
      await expect(new GradientSimilarity(model).attribute(wide.rows, few)).rejects.toMatchObject({ code: 'shape_mismatch', details: { arg: 'train.x' } });
      await wide.close();
    } finally {
      await Promise.all([x.close(), y.close()]);
    }
  });
});

/** The first 30 rows of a training set (k = p = 42 > n = 30: TRAK's dual form). */
function tiledHead(t: TrainingSet): TrainingSet {
  if ('read' in t) return { ...t, n: 30 };
  return { x: { shape: [30, 13], data: Array.from(t.x.data).slice(0, 390) }, y: { shape: [30], data: Array.from(t.y.data).slice(0, 30) } };
}
