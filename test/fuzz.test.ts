// The fuzz test (issue 19, part 4): a bounded seeded sample of the full `npm run fuzz` run, plus
// the minimized mutants that once escaped as untyped errors (each fixed in src/).
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../src/io/load-model.js';
import { fromOnnx } from '../src/models/onnx/node.js';
import { parseVocabulary } from '../src/io/vocab.js';
import { parseLabels } from '../src/io/labels.js';
import { onnx } from '../src/models/onnx/graph/proto.js';
import { TARGETS } from './fuzz/targets.js';
import { fuzzTarget } from './fuzz/run.js';

/** Cases per target in CI: the cheap parsers get many, model loads (TF.js, ONNX Runtime) few. */
const SAMPLE: Readonly<Record<string, number>> = { npy: 1000, 'tensor-json': 600, safetensors: 1000, 'safetensors-folder': 200, image: 400, vocab: 500, labels: 600, 'hf-config': 200, 'tfjs-model': 100, onnx: 100 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fuzz sample: every mutant parses or throws a typed AttributionError in time', () => {
  for (const t of TARGETS) {
    it(`${t.name}: ${SAMPLE[t.name]} seeded mutants`, async () => {
      const [before, variables] = [tf.memory().numTensors, Object.keys(tf.engine().registeredVariables).length];
      // seed 7: other mutants than `npm run fuzz` (seed 1 by default)
      const r = await fuzzTarget(t, { seed: 7, count: SAMPLE[t.name]! });
      expect(r.failures).toEqual([]);
      expect(r.successes + r.typedErrors).toBe(r.cases);
      // the mutants are not all rejected by the first check: some still parse, many fail typed
      expect(r.typedErrors).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
      expect(Object.keys(tf.engine().registeredVariables).length).toBe(variables);
    }, 20_000);
  }
});

describe('fuzz regressions (minimized mutants)', () => {
  it('an ONNX protobuf without a graph is a typed invalid_model, not a TypeError', async () => {
    const bytes = onnx.ModelProto.encode({ irVersion: 7, opsetImport: [{ version: 13 }] }).finish();
    await expect(fromOnnx(bytes, { cacheDir: false })).rejects.toMatchObject({ code: 'invalid_model' });
  });

  type DemoJson = { modelTopology: { config: { layers: { config: { units: unknown } }[] } }; weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
  it.each([
    // tfjs-layers: "Expected units to be a positive integer, but got null", after building two layers
    ['whose third layer is malformed releases the variables of the two built before it', (j: DemoJson) => void (j.modelTopology.config.layers[2]!.config.units = null)],
    ['with a weight that no layer has releases the weight tensors tfjs-layers decoded for it', (j: DemoJson) => void (j.weightsManifest[0]!.weights[0]!.name = 'nowhere/kernel')],
    ['with a weight whose shape differs from its layer releases the weight tensors tfjs-layers decoded for it', (j: DemoJson) => void j.weightsManifest[0]!.weights[0]!.shape.reverse()],
  ])('a TF.js model.json %s', async (_, mutate) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attrib-fuzz-reg-'));
    try {
      const json = JSON.parse(readFileSync('models/demo-tabular/model.json', 'utf8')) as DemoJson;
      mutate(json);
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      writeFileSync(path.join(dir, 'weights.bin'), readFileSync('models/demo-tabular/weights.bin'));
      const [tensors, variables] = [tf.memory().numTensors, Object.keys(tf.engine().registeredVariables).length];
      await expect(loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' })).rejects.toMatchObject({ code: 'invalid_model' });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(Object.keys(tf.engine().registeredVariables).length).toBe(variables);
      // a good model still loads afterwards (the loadWeights wrapper is gone)
      const m = await loadModel('models/demo-tabular/model.json', { engine: 'tfjs' });
      m.dispose();
      expect(tf.memory().numTensors).toBe(tensors);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a weight listed twice is refused, and optimizer state in the manifest is dropped (no tensor is left either way)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attrib-fuzz-reg-'));
    try {
      type Manifest = { paths: string[]; weights: { name: string; shape: number[]; dtype: string; group?: string }[] }[];
      const base = JSON.parse(readFileSync('models/demo-tabular/model.json', 'utf8')) as { weightsManifest: Manifest };
      const bin = readFileSync('models/demo-tabular/weights.bin');
      const first = base.weightsManifest[0]!.weights[0]!;
      const bytes = first.shape.reduce((a, b) => a * b, 1) * 4;
      const [tensors, variables] = [tf.memory().numTensors, Object.keys(tf.engine().registeredVariables).length];
      // the first weight again, with its bytes appended
      const twice = structuredClone(base);
      twice.weightsManifest.push({ paths: ['extra.bin'], weights: [{ ...first }] });
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(twice));
      writeFileSync(path.join(dir, 'weights.bin'), bin);
      writeFileSync(path.join(dir, 'extra.bin'), bin.subarray(0, bytes));
      await expect(loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' })).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringMatching(/listed twice/) });
      // optimizer state, as includeOptimizer saves it: dropped, the model loads and matches the original
      const opt = structuredClone(base);
      opt.weightsManifest.push({ paths: ['extra.bin'], weights: [{ name: 'optimizer/iter', shape: [bytes / 4], dtype: 'float32', group: 'optimizer' }] });
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(opt));
      const m = await loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' });
      const ref = await loadModel('models/demo-tabular/model.json', { engine: 'tfjs' });
      const x = tf.ones([1, ...(ref.inputShape.slice(1) as number[])]);
      const [a, b] = [await m.forward(x), await ref.forward(x)];
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      tf.dispose([x, a, b]);
      m.dispose();
      ref.dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(Object.keys(tf.engine().registeredVariables).length).toBe(variables);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['"modelTopology" is not an object', { modelTopology: false }],
    ['a weightsManifest group is null', { modelTopology: {}, weightsManifest: [null] }],
    ['a weight dtype is an Object.prototype key', { modelTopology: {}, weightsManifest: [{ paths: [], weights: [{ name: 'w', shape: [1], dtype: 'constructor' }] }] }, /unsupported dtype 'constructor'/],
  ])('a model.json where %s is a typed invalid_model', async (_, json, message = /./) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attrib-fuzz-reg-'));
    try {
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      await expect(loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' })).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringMatching(message) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a vocabulary or label file holding a 3 MB value gives a short message, quickly', () => {
    const huge = 'x'.repeat(3_000_000);
    const t0 = performance.now();
    for (const f of [() => parseVocabulary(JSON.stringify({ a: 0, b: [huge] }), 'v'), () => parseLabels(JSON.stringify([[huge]]), 'l')]) {
      let message = '';
      try {
        f();
      } catch (e) {
        expect(e).toMatchObject({ code: 'invalid_file' });
        message = (e as Error).message;
      }
      expect(message.length).toBeGreaterThan(0);
      expect(message.length).toBeLessThan(300);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
