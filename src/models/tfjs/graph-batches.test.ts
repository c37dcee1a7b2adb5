// Graph-model calls in row slices: the same outputs and gradients as one call, per-row targets kept
// aligned, memory failures retried with half the rows, no tensor left behind.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as Tfc from '@tensorflow/tfjs-converter';
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { relError, ROOT } from '../../../test/reference.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import { Rng } from '../../core/random.js';
import { BackendError } from '../../core/errors.js';
import { readModelArtifacts } from '../../io/load-model.js';
import { importPeer } from '../peers.js';
import { forwardByRows, gradientsByRows, isMemoryError } from './graph-batches.js';
import { fromGraphModel } from './graph-model.js';
import { wasmOutOfMemory } from './wasm-heap.js';
import { isDifferentiable } from '../model.js';

beforeAll(() => useBackend('cpu'));

const rng = new Rng(4);

async function cnn(memoryBudgetBytes?: number) {
  const artifacts = await readModelArtifacts(path.join(ROOT, 'test', 'fixtures', 'graph', 'cnn', 'model.json'));
  const tfc = (await importPeer('@tensorflow/tfjs-converter')) as typeof Tfc;
  const graph = await tfc.loadGraphModel({ load: async () => artifacts });
  return fromGraphModel(graph, { name: 'cnn', ...(memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes }) });
}

it('a budget of a few rows splits forward and gradients; results equal one call, targets stay per row', async () => {
  const [whole, sliced] = [await cnn(), await cnn(40_000)]; // ~6 kB of activations per row: 2 rows per gradient slice
  if (!isDifferentiable(whole) || !isDifferentiable(sliced)) throw new Error('the CNN differentiates on cpu');
  const x = tf.tensor(Array.from({ length: 7 * 12 * 12 * 3 }, () => rng.normal()), [7, 12, 12, 3]);
  const target = [0, 1, 2, 3, 0, 1, 2];
  const [a, b] = [await whole.forward(x), await sliced.forward(x)];
  expect(await relError(b, Array.from(await a.data()), a.shape)).toBeLessThan(1e-6);
  tf.dispose([a, b]);
  using ga = await new Saliency(whole).attribute(x, { target, abs: false });
  const before = tf.memory().numTensors;
  using gb = await new Saliency(sliced).attribute(x, { target, abs: false });
  expect(tf.memory().numTensors).toBe(before + 1);
  expect(await relError(gb.values, Array.from(await ga.values.data()), ga.values.shape)).toBeLessThan(1e-6);
  x.dispose();
  whole.dispose();
  sliced.dispose();
});

it('a memory error is retried with half the rows; other errors pass through; nothing leaks', () => {
  const x = tf.tensor(Array.from({ length: 8 * 3 }, (_, i) => i / 10), [8, 3]);
  const calls: number[] = [];
  const f = (v: tf.Tensor) => {
    calls.push(v.shape[0]!);
    if (v.shape[0]! > 2) throw new BackendError('Graph model execution failed', {}, new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded'));
    return tf.mul(v, v);
  };
  const before = tf.memory().numTensors;
  const y = forwardByRows(x, 8, f);
  expect(calls.slice(0, 3)).toEqual([8, 4, 2]);
  expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()).map((v) => Math.fround(v * v)));
  y.dispose();
  const g = gradientsByRows(x, 8, f, (o) => tf.sum(o, 1));
  expect(Array.from(g.dataSync()).map((v) => +v.toFixed(5))).toEqual(Array.from(x.dataSync()).map((v) => +(2 * v).toFixed(5)));
  g.dispose();
  expect(tf.memory().numTensors).toBe(before);
  expect(() => forwardByRows(x, 8, () => { throw new TypeError('bad op'); })).toThrow('bad op');
  expect(tf.memory().numTensors).toBe(before);
  expect(isMemoryError(new Error('x', { cause: new Error('Aborted(OOM)') }))).toBe(false); // an abort: the module is dead, not short of memory
  expect(isMemoryError(new RangeError('Invalid array length'))).toBe(true);
  expect(isMemoryError(new BackendError('Graph model execution failed', {}, wasmOutOfMemory(2 ** 20, 2 ** 32)))).toBe(true);
  expect(isMemoryError(new BackendError('Graph model execution failed', {}, new WebAssembly.RuntimeError('memory access out of bounds')))).toBe(false);
  expect(isMemoryError(new Error('Shapes do not match'))).toBe(false);
  x.dispose();
});
