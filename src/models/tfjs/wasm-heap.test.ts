// A REAL wasm out-of-memory, cheaply: the wasm heap is grown to its 4 GiB cap by `_malloc` blocks
// that are never written (so they cost address space, not RAM), leaving a few MiB free; a real graph
// model (Human's anti-spoofing CNN and face-attribute MobileNet, devDependencies) then runs on a batch
// that needs more. Unguarded, TF.js's wasm backend writes the tensor at address 0 and dies (see
// wasm-heap.ts); here the failed allocation throws, the batch is split, the numbers are those of
// one row at a time, and the backend keeps working. A trap that still happens (an allocation inside
// the module: XNNPACK's buffers) is a typed dead-backend error, and later calls refuse.
// Each vitest file runs in its own process (pool 'forks'), so the dead backend of the last test
// stays in this file.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { fillWasmHeap } from '../../../test/wasm-heap-fill.js';
import { loadReferenceModel, ROOT } from '../../../test/reference.js';
import { AttributionError } from '../../core/errors.js';
import { loadModel } from '../../io/load-model.js';
import { isDifferentiable, type DifferentiableModel } from '../model.js';
import { assertBackendAlive, onGuardedBackend, refusedAllocations, WASM_HEAP_MAX, WASM_INTERNAL_RESERVE, wasmModule, type WasmModuleLike } from './wasm-heap.js';

const human = (name: string) => path.join(ROOT, 'node_modules', '@vladmandic', 'human', 'models', `${name}.json`);
const HUGE = 1e15; // memoryBudgetBytes: attrib does not pre-split, the heap itself runs out

beforeAll(() => useBackend('wasm'));
afterAll(() => useBackend('cpu'));

const wasm = (): WasmModuleLike => {
  const m = wasmModule();
  if (!m) throw new Error('the wasm backend is in force');
  return m;
};

/** Fills the wasm heap to its cap, leaving about `freeMiB` MiB for tensors besides the top `WASM_INTERNAL_RESERVE` the guard keeps. */
const fillHeap = (freeMiB: number): (() => void) => fillWasmHeap(wasm(), freeMiB);

const objective = (o: tf.Tensor) => tf.sum(tf.slice(o, [0, 0], [-1, 1]));

/** Rows of uniform noise in [0, 1] (seeded). */
const rowsOf = (model: DifferentiableModel, n: number, seed: number) => tf.randomUniform([n, ...(model.inputShape.slice(1) as number[])], 0, 1, 'float32', seed);

/** The gradients of each row computed alone (before the heap is filled). */
async function oneByOne(model: DifferentiableModel, x: tf.Tensor): Promise<Float32Array> {
  const out: number[] = [];
  for (let i = 0; i < x.shape[0]!; i++) {
    const row = tf.slice(x, i, 1);
    const g = await model.gradients(row, objective);
    out.push(...(await g.data()));
    tf.dispose([row, g]);
  }
  return Float32Array.from(out);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

it('a batch the full wasm heap cannot hold is split by the real allocation failure: the gradients and outputs of one row at a time, nothing leaks, the backend still works', async () => {
  const model = await loadModel(human('antispoof'), { engine: 'tfjs', memoryBudgetBytes: HUGE });
  if (!isDifferentiable(model)) throw new Error('antispoof differentiates on wasm');
  const x = rowsOf(model, 8, 1);
  const alone = await oneByOne(model, x);
  const outAlone = await (await model.forward(tf.slice(x, 0, 1))).data();
  const before = { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, dataIds: tf.backend().numDataIds() };
  const release = fillHeap(40);
  try {
    expect(wasm().HEAPU8.byteLength).toBeGreaterThan(WASM_HEAP_MAX - WASM_INTERNAL_RESERVE - 200 * 2 ** 20); // the heap really is near its cap
    const refusedBefore = refusedAllocations();
    const g = await model.gradients(x, objective); // 8 rows need ~280 MiB at once on wasm (34 MiB a row)
    expect(refusedAllocations()).toBeGreaterThan(refusedBefore); // the heap did run out: the batch was split after a real failure
    expect(maxAbsDiff(await g.data(), alone)).toBeLessThan(1e-6);
    g.dispose();
  } finally {
    release();
  }
  expect(tf.memory().numTensors).toBe(before.tensors);
  expect(tf.memory().numBytes).toBe(before.bytes);
  expect(tf.backend().numDataIds()).toBe(before.dataIds); // nothing left allocated in the backend by the failed attempts
  const y = await model.forward(tf.slice(x, 0, 1));
  expect(maxAbsDiff(await y.data(), outAlone)).toBe(0);
  y.dispose();
  x.dispose();
  model.dispose();
});

it('a row that cannot fit at all: a typed out-of-memory error (nothing written), and the backend works once memory is free', async () => {
  const model = await loadModel(human('antispoof'), { engine: 'tfjs', memoryBudgetBytes: HUGE });
  if (!isDifferentiable(model)) throw new Error('antispoof differentiates on wasm');
  const x = rowsOf(model, 2, 2);
  const alone = await oneByOne(model, x);
  const before = tf.memory().numTensors;
  const release = fillHeap(0);
  let error: unknown;
  try {
    await model.gradients(x, objective);
  } catch (e) {
    error = e;
  } finally {
    release();
  }
  expect(error).toBeInstanceOf(AttributionError);
  expect((error as AttributionError).code).toBe('backend_failure');
  expect(JSON.stringify((error as AttributionError).details)).toContain('"outOfMemory":true');
  expect(String((error as Error).message)).toMatch(/could not allocate .* still usable/);
  expect(tf.memory().numTensors).toBe(before);
  const g = await model.gradients(x, objective);
  expect(maxAbsDiff(await g.data(), alone)).toBeLessThan(1e-6);
  tf.dispose([g, x]);
  model.dispose();
});

it('layers models too: a batch the full heap cannot hold is a typed out-of-memory error (they do not split), and the backend works after', async () => {
  const model = await loadReferenceModel('image_cnn');
  const x = tf.randomUniform([64, ...(model.inputShape.slice(1) as number[])], 0, 1, 'float32', 5);
  const x0 = tf.slice(x, 0, 1);
  const alone = await (await model.forward(x0)).data();
  const before = tf.memory().numTensors;
  const release = fillHeap(0);
  let error: unknown;
  try {
    await model.forward(x);
  } catch (e) {
    error = e;
  } finally {
    release();
  }
  expect(error).toMatchObject({ code: 'backend_failure', details: { outOfMemory: true } });
  expect(tf.memory().numTensors).toBe(before);
  const y = await model.forward(x0);
  expect(maxAbsDiff(await y.data(), alone)).toBe(0);
  tf.dispose([y, x, x0]);
  model.dispose();
});

// last: it kills this process's wasm backend for real
it('a kernel refused at its second output (TopK) leaves no buffer registered: onGuardedBackend frees what no tensor holds', async () => {
  const N = 3_000_000; // 11.4 MiB per output: the values fit in the one 16 MiB hole left, the indices do not
  const x = tf.randomUniform([1, N], 0, 1, 'float32', 3);
  await x.data();
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const before = { tensors: tf.memory().numTensors, ids: backend.numDataIds(), refused: refusedAllocations() };
  const hole = wasm()._malloc(16 * 2 ** 20) >>> 0;
  const release = fillHeap(0);
  wasm()._free(hole);
  let err: unknown;
  try {
    onGuardedBackend(() => tf.tidy(() => tf.topk(x, N).values));
  } catch (e) {
    err = e;
  } finally {
    release();
  }
  expect(err).toBeInstanceOf(AttributionError);
  expect((err as AttributionError).details['outOfMemory']).toBe(true);
  expect(refusedAllocations()).toBeGreaterThan(before.refused);
  expect(tf.memory().numTensors).toBe(before.tensors);
  expect(backend.numDataIds()).toBe(before.ids); // the values buffer allocated before the refusal is freed
  // and the same op with memory free gives the right answer
  const top = tf.topk(x, 3);
  const [vals, all] = [await top.values.data(), await x.data()];
  expect(Array.from(vals)).toEqual(Array.from(all).sort((a, b) => b - a).slice(0, 3));
  tf.dispose([top.values, top.indices, x]);
});

it('a trap of the wasm module inside a model call: a typed dead-backend error, and every later call refuses instead of running on it', async () => {
  const model = await loadModel(human('antispoof'), { engine: 'tfjs' });
  const one = rowsOf(model as DifferentiableModel, 1, 3);
  (await model.forward(one)).dispose();
  // a real trap, induced: the module is told that the input's data lies past the end of its heap
  const bad = tf.clone(one);
  const backend = tf.backend() as BackendWasm;
  const id = backend.dataIdMap.get(bad.dataId)?.id;
  if (id === undefined) throw new Error('the input lives on the wasm backend');
  backend.wasm.tfjs.disposeData(id);
  backend.wasm.tfjs.registerTensor(id, bad.size, WASM_HEAP_MAX - 64);
  await expect(model.forward(bad)).rejects.toMatchObject({ code: 'backend_failure', details: { dead: true }, message: expect.stringMatching(/wasm backend is dead \(memory access out of bounds\)/) });
  await expect(model.forward(one)).rejects.toMatchObject({ code: 'backend_failure', details: { dead: true } });
  expect(() => assertBackendAlive()).toThrow(/wasm backend is dead/);
});
