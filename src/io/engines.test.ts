// The default engine (auto), diagnostics.engine / compileMs, the on-disk cache of compiled backward
// graphs, and optional peers that are missing.
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { examples, reference, referencePath, relError, removeTempDirs, ROOT, tempDir } from '../../test/reference.js';
import { Saliency } from '../attr/gradient/saliency.js';
import { IntegratedGradients } from '../attr/gradient/integrated-gradients.js';
import { setupBackend, engineFor } from '../cli/backend.js';
import { findMethod } from '../methods.js';
import { diskGraphStore, resolveCacheDir } from '../models/onnx/compile-cache.js';
import { onnxAdapter, type CompiledGraphStore } from '../models/onnx/differentiable.js';
import type { DifferentiableModel } from '../models/model.js';
import { importPeer } from '../models/peers.js';
import { loadModel } from './load-model.js';

beforeAll(() => useBackend('wasm'));

afterAll(removeTempDirs);

describe('engine auto (the default)', () => {
  it('runs a layers model.json on ONNX Runtime, says so in diagnostics, and agrees with TF.js and Captum', async () => {
    const file = referencePath('image_cnn', 'model.json');
    const x = examples('image_cnn');
    const ref = reference('image_cnn');
    const fast = (await loadModel(file, { cacheDir: false })) as DifferentiableModel;
    const slow = (await loadModel(file, { engine: 'tfjs' })) as DifferentiableModel;
    expect(fast.engine).toBe('onnx');
    expect(slow.engine).toBe('tfjs');
    const before = tf.memory().numTensors;
    const a = await new IntegratedGradients(fast).attribute(x, { target: ref.targets, steps: 50, rule: 'gauss-legendre' });
    const b = await new IntegratedGradients(slow).attribute(x, { target: ref.targets, steps: 50, rule: 'gauss-legendre' });
    expect(a.diagnostics.engine).toBe('onnx');
    expect(b.diagnostics.engine).toBe('tfjs');
    expect(b.diagnostics.compileMs).toBeUndefined(); // TF.js compiles nothing
    expect(a.diagnostics.compileMs).toBeGreaterThan(0); // the first call compiles the backward graph
    expect(a.diagnostics.compileMs).toBeLessThanOrEqual(a.diagnostics.elapsedMs);
    expect(await relError(a.values, ref.methods['integrated_gradients_gausslegendre']!.attributions)).toBeLessThan(1e-4);
    expect(await relError(a.values, Array.from(await b.values.data()), b.values.shape)).toBeLessThan(1e-4);
    a.dispose();
    b.dispose();
    // later calls: graph and sessions reused, nothing compiled (the first small call may open the
    // one-thread session for runs of ≤ 16 rows, unless IG's paced chunks already ended on such a run)
    (await new Saliency(fast).attribute(x, { target: ref.targets })).dispose();
    const c = await new Saliency(fast).attribute(x, { target: ref.targets });
    expect(c.diagnostics.compileMs).toBe(0);
    c.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    fast.dispose();
    slow.dispose();
  });

  it('on ONNX Runtime, IG does not depend on how its points are chunked: the same bits for any batch size', async () => {
    const model = (await loadModel(referencePath('image_cnn', 'model.onnx'), { cacheDir: false })) as DifferentiableModel;
    const x = examples('image_cnn');
    const target = reference('image_cnn').targets;
    const before = tf.memory().numTensors;
    const runs: Float32Array[] = [];
    // each gradient is added to its own row in float64 (host gradients), so paced or fixed chunks agree
    for (const batchSize of [400, 37, 1]) {
      const a = await new IntegratedGradients(model).attribute(x, { target, steps: 50, batchSize });
      runs.push((await a.values.data()) as Float32Array);
      a.dispose();
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('threads: ONNX Runtime on one thread gives the same attributions; a bad count is refused before loading', async () => {
    const file = referencePath('image_cnn', 'model.json');
    const x = examples('image_cnn');
    const ref = reference('image_cnn');
    const one = (await loadModel(file, { cacheDir: false, threads: 1 })) as DifferentiableModel;
    expect(one.engine).toBe('onnx');
    const r = await new IntegratedGradients(one).attribute(x, { target: ref.targets, steps: 50, rule: 'gauss-legendre' });
    expect(await relError(r.values, ref.methods['integrated_gradients_gausslegendre']!.attributions)).toBeLessThan(1e-4);
    r.dispose();
    x.dispose();
    one.dispose();
    for (const threads of [0, 1.5, 1000]) await expect(loadModel(file, { threads })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'threads' } });
    // a bad memory budget is refused before the model is read: no weights are left behind (a graph model)
    const graphFile = path.join(ROOT, 'node_modules', '@vladmandic', 'human', 'models', 'antispoof.json');
    const tensors = tf.memory().numTensors;
    for (const memoryBudgetBytes of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(loadModel(graphFile, { engine: 'tfjs', memoryBudgetBytes })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'memoryBudgetBytes' } });
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(engineFor('auto', [findMethod('saliency')], 2)).toEqual({ engine: 'auto', threads: 2 });
  });

  it('the CLI default is auto, and TF.js for the rules methods (guided backprop, DeepLIFT, LRP)', () => {
    expect(engineFor(undefined, [findMethod('saliency')])).toEqual({ engine: 'auto' });
    expect(engineFor(undefined, [findMethod('deeplift')])).toEqual({ engine: 'tfjs' });
    expect(engineFor('tfjs', [findMethod('saliency')])).toEqual({ engine: 'tfjs' });
  });

  it('layer methods on the exported model keep the hook names and report the engine', async () => {
    const model = (await loadModel(referencePath('image_cnn', 'model.json'), { cacheDir: false })) as DifferentiableModel;
    const x = examples('image_cnn');
    const ref = reference('image_cnn');
    const gradcam = findMethod('layer-gradcam').create(model, { layer: 'conv2' });
    const r = await gradcam.attribute(x, { target: ref.targets } as never);
    expect(r.diagnostics.engine).toBe('onnx');
    expect(await relError(r.values, ref.methods['layer_gradcam']!.attributions)).toBeLessThan(1e-4);
    r.dispose();
    x.dispose();
    model.dispose();
  });
});

/** A store that counts hits, misses and writes. */
function counting(inner: CompiledGraphStore): CompiledGraphStore & { hits: number; misses: number; puts: number } {
  const s = {
    hits: 0,
    misses: 0,
    puts: 0,
    get: async (k: string) => {
      const v = await inner.get(k);
      if (v) s.hits++;
      else s.misses++;
      return v;
    },
    put: async (k: string, v: Uint8Array) => {
      s.puts++;
      await inner.put(k, v);
    },
  };
  return s;
}

describe('compiled backward graphs on disk', () => {
  const bytes = () => new Uint8Array(readFileSync(referencePath('image_cnn', 'model.onnx')));
  const saliency = async (m: DifferentiableModel, x: tf.Tensor, targets: number[]) => {
    const r = await new Saliency(m).attribute(x, { target: targets, abs: false });
    const v = await r.values.data();
    const d = r.diagnostics;
    r.dispose();
    return { v, d };
  };

  it('a second adapter reads the graph the first one compiled; corrupt or foreign entries are recompiled', async () => {
    const dir = tempDir('attrib-cache-');
    const x = examples('image_cnn');
    const targets = reference('image_cnn').targets;
    const first = counting(diskGraphStore(dir));
    const m1 = (await onnxAdapter(bytes(), ort as never, { graphStore: first })) as DifferentiableModel;
    const r1 = await saliency(m1, x, targets);
    expect([first.hits, first.misses, first.puts]).toEqual([0, 1, 1]);
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.vjp'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.tmp'))).toHaveLength(0); // written by rename
    m1.dispose();

    const second = counting(diskGraphStore(dir));
    const m2 = (await onnxAdapter(bytes(), ort as never, { graphStore: second })) as DifferentiableModel;
    const r2 = await saliency(m2, x, targets);
    expect([second.hits, second.misses, second.puts]).toEqual([1, 0, 0]);
    expect(r2.d.compileMs).toBeGreaterThan(0); // the session is still created
    r2.v.forEach((v, i) => expect(Math.abs(v - r1.v[i]!)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(r1.v[i]!)));
    // a second call of the same adapter compiles nothing
    expect((await saliency(m2, x, targets)).d.compileMs).toBe(0);
    m2.dispose();

    // flip one byte of the stored graph: the checksum fails, the graph is recompiled and rewritten
    const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.vjp'))!);
    const raw = readFileSync(file);
    raw[raw.length - 10] = raw[raw.length - 10]! ^ 0xff;
    writeFileSync(file, raw);
    const third = counting(diskGraphStore(dir));
    const m3 = (await onnxAdapter(bytes(), ort as never, { graphStore: third })) as DifferentiableModel;
    const r3 = await saliency(m3, x, targets);
    expect([third.hits, third.misses, third.puts]).toEqual([0, 1, 1]);
    r3.v.forEach((v, i) => expect(Math.abs(v - r1.v[i]!)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(r1.v[i]!)));
    m3.dispose();

    // a store that answers with something that is not this model's backward graph is not believed
    const liar = counting({ get: async () => new Uint8Array([4, 0, 0, 0, 123, 125, 0, 0, 1, 2, 3]), put: async () => undefined });
    const m4 = (await onnxAdapter(bytes(), ort as never, { graphStore: liar })) as DifferentiableModel;
    const r4 = await saliency(m4, x, targets);
    expect(liar.puts).toBe(1);
    r4.v.forEach((v, i) => expect(Math.abs(v - r1.v[i]!)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(r1.v[i]!)));
    m4.dispose();
    x.dispose();
  });

  it('the store reads only regular files of its own, in a folder only this user can write', async () => {
    const dir = tempDir('attrib-cache-store-');
    const store = diskGraphStore(dir);
    const value = new Uint8Array([1, 2, 3, 4, 5]);
    await store.put('k', value);
    expect(Array.from((await store.get('k')) ?? [])).toEqual([1, 2, 3, 4, 5]);
    expect(await store.get('other key')).toBeUndefined();
    // an entry replaced by a symlink (to a valid entry elsewhere) is not followed
    const entry = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.vjp'))!);
    const elsewhere = path.join(tempDir('attrib-cache-elsewhere-'), 'entry');
    writeFileSync(elsewhere, readFileSync(entry));
    rmSync(entry);
    symlinkSync(elsewhere, entry);
    expect(await store.get('k')).toBeUndefined();
    rmSync(entry);
    // a folder others can write to is neither read nor written
    await store.put('k', value);
    expect(await store.get('k')).toBeDefined();
    chmodSync(dir, 0o777);
    expect(await store.get('k')).toBeUndefined();
    await store.put('k2', value);
    expect(readdirSync(dir).filter((f) => f.endsWith('.vjp'))).toHaveLength(1);
    chmodSync(dir, 0o700);
    expect(await store.get('k')).toBeDefined();
  });

  it('another process hits the cache: the entry is not rewritten, and compileMs is reported apart from elapsedMs', async () => {
    const dir = tempDir('attrib-cache-proc-');
    // plain JavaScript evaluated as a module in the repository's folder (tsx loads the TypeScript sources)
    const code = `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
const { loadModel } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'src', 'node.ts')).href)});
const { Saliency } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'src', 'index.ts')).href)});
await tf.setBackend('cpu');
const model = await loadModel(process.argv[1], { cacheDir: process.argv[2] });
const x = tf.zeros([2, 32, 32, 3]);
const r = await new Saliency(model).attribute(x, { target: [0, 1] });
console.log(JSON.stringify({ engine: r.diagnostics.engine, compileMs: r.diagnostics.compileMs, elapsedMs: r.diagnostics.elapsedMs }));
`;
    const run = async () => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, referencePath('image_cnn', 'model.onnx'), dir], { cwd: ROOT });
      return JSON.parse(stdout.trim().split('\n').pop()!) as { engine: string; compileMs: number; elapsedMs: number };
    };
    const a = await run();
    const entry = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.vjp'))!);
    const written = statSync(entry).mtimeMs;
    const b = await run();
    expect(readdirSync(dir).filter((f) => f.endsWith('.vjp'))).toHaveLength(1);
    expect(statSync(entry).mtimeMs).toBe(written); // read, not recompiled and rewritten
    for (const r of [a, b]) {
      expect(r.engine).toBe('onnx');
      expect(r.compileMs).toBeGreaterThan(0);
      expect(r.compileMs).toBeLessThanOrEqual(r.elapsedMs);
    }
  });

  it('a cache folder that cannot be written never fails a call', async () => {
    const blocker = path.join(tempDir('attrib-cache-file-'), 'not-a-folder');
    writeFileSync(blocker, 'x');
    const store = counting(diskGraphStore(path.join(blocker, 'sub')));
    const m = (await onnxAdapter(bytes(), ort as never, { graphStore: store })) as DifferentiableModel;
    const x = examples('image_cnn');
    const r = await saliency(m, x, reference('image_cnn').targets);
    expect([store.misses, store.puts]).toEqual([1, 1]);
    expect(r.v.length).toBe(x.size);
    x.dispose();
    m.dispose();
  });

  it('resolves the cache folder from the option, ATTRIB_CACHE_DIR, XDG_CACHE_HOME, then the home folder', () => {
    expect(resolveCacheDir(false, { ATTRIB_CACHE_DIR: '/tmp/x' })).toBeUndefined();
    expect(resolveCacheDir('/tmp/a', { ATTRIB_CACHE_DIR: '/tmp/x' })).toBe('/tmp/a');
    expect(resolveCacheDir(undefined, { ATTRIB_CACHE_DIR: '/tmp/x', XDG_CACHE_HOME: '/tmp/y' })).toBe('/tmp/x');
    for (const off of ['off', '0', '', 'false']) expect(resolveCacheDir(undefined, { ATTRIB_CACHE_DIR: off })).toBeUndefined();
    expect(resolveCacheDir(undefined, { XDG_CACHE_HOME: '/tmp/y' })).toBe(path.join('/tmp/y', 'attrib'));
    expect(resolveCacheDir(undefined, {})).toMatch(/\.cache[/\\]attrib$/);
    expect(() => resolveCacheDir('' as never)).toThrowError(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('optional peers', () => {
  const notFound = async (s: string) => {
    throw Object.assign(new Error(`Cannot find package '${s}'`), { code: 'ERR_MODULE_NOT_FOUND' });
  };

  it('a missing peer is capability_missing naming the package and its install command', async () => {
    const e = await importPeer('onnxruntime-node', notFound).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'capability_missing', details: { package: 'onnxruntime-node', install: 'npm install onnxruntime-node', reason: 'not_installed' } });
    const broken = await importPeer('@tensorflow/tfjs-converter', async () => {
      throw new Error('bad ELF header');
    }).catch((err: unknown) => err);
    expect(broken).toMatchObject({ code: 'capability_missing', details: { package: '@tensorflow/tfjs-converter', reason: 'load_failed' } });
    expect(await importPeer('onnxruntime-node')).toHaveProperty('InferenceSession');
  });

  it('the CLI without either TF.js backend package names the one to install', async () => {
    const e = await setupBackend('cpu', true, notFound).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'capability_missing', details: { package: '@tensorflow/tfjs-backend-cpu', install: 'npm install @tensorflow/tfjs-backend-cpu' } });
    const w = await setupBackend(undefined, true, notFound).catch((err: unknown) => err);
    expect(w).toMatchObject({ code: 'capability_missing', details: { package: '@tensorflow/tfjs-backend-wasm' } });
  });
});
