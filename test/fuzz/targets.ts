// The parsers of untrusted files, each with its seeds (valid small files from the repo) and the call
// that parses one mutant. A call either returns (the mutant is still valid), or throws.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { loadModel } from '../../src/io/load-model.js';
import { loadTransformer } from '../../src/io/load-transformer.js';
import { decodeImage } from '../../src/io/image.js';
import { parseNpy, encodeNpy } from '../../src/io/npy.js';
import { parseTensorJson } from '../../src/io/tensor-json.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { readSafetensorsFolder } from '../../src/io/safetensors-folder.js';
import { encodeSafetensors } from '../../src/io/safetensors-write.js';
import { parseVocabulary, tokenize } from '../../src/io/vocab.js';
import { parseFeatureNames, parseLabels } from '../../src/io/labels.js';
import { fromOnnx } from '../../src/models/onnx/node.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (p: string): Uint8Array => new Uint8Array(readFileSync(path.join(ROOT, p)));
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A seed: one or more files (by name) that make one valid input together. */
export type Seed = Readonly<Record<string, Uint8Array>>;

export interface FuzzTarget {
  readonly name: string;
  /** Cases of the full run (`npm run fuzz`); the sum over targets is ≥ 10^5. */
  readonly cases: number;
  /** Per-case wall-time bound in ms: a slower case counts as a hang. */
  readonly maxMs: number;
  readonly seeds: () => Seed[];
  /** Files whose text is JSON (mutated structurally half of the time). */
  readonly json: ReadonlySet<string>;
  /** Parses one mutant; `dir` is a scratch folder of this target. */
  readonly run: (files: Seed, dir: string) => Promise<void> | void;
}

function writeAll(dir: string, files: Seed): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
}

const smallTensors = (): Record<string, { shape: number[]; data: number[] }> => ({
  'wte.weight': { shape: [4, 3], data: Array.from({ length: 12 }, (_, i) => i / 7 - 0.8) },
  'h.0.ln.bias': { shape: [3], data: [0.5, -1, 2] },
  scalar: { shape: [], data: [3.25] },
});

/** A safetensors file with F16 and BF16 tensors too (the writer makes F32 only). */
function mixedSafetensors(): Uint8Array {
  const header = JSON.stringify({ __metadata__: { format: 'pt' }, a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] }, c: { dtype: 'F64', shape: [1], data_offsets: [16, 24] }, d: { dtype: 'I64', shape: [1], data_offsets: [24, 32] } });
  const head = new TextEncoder().encode(header + ' '.repeat((8 - (header.length % 8)) % 8));
  const out = new Uint8Array(8 + head.length + 32);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  for (let i = 0; i < 32; i++) out[8 + head.length + i] = (i * 37 + 11) & 0xff;
  return out;
}

function jpegSeed(): Uint8Array {
  const [w, h] = [8, 6];
  const data = new Uint8Array(w * h * 4).map((_, i) => (i * 29) & 0xff);
  return new Uint8Array(jpeg.encode({ data, width: w, height: h }, 80).data);
}

export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'npy',
    cases: 15_000,
    maxMs: 1000,
    json: new Set(),
    seeds: () => [
      { 'a.npy': read('test/fixtures/data/arrays/test-x.npy') },
      { 'a.npy': read('test/fixtures/data/arrays/test-y.npy') },
      { 'a.npy': encodeNpy({ shape: [2, 3], dtype: 'int32', data: new Int32Array([1, -2, 3, 4, 5, 6]) }) },
    ],
    run: (f) => void parseNpy(f['a.npy']!),
  },
  {
    name: 'tensor-json',
    cases: 15_000,
    maxMs: 1000,
    json: new Set(['t.json']),
    seeds: () => [{ 't.json': read('models/demo-tabular/inputs.json') }, { 't.json': read('models/demo-text/inputs.json') }, { 't.json': read('models/demo-tabular/labels.json') }],
    run: (f) => void parseTensorJson(text(f['t.json']!)),
  },
  {
    name: 'safetensors',
    cases: 15_000,
    maxMs: 1000,
    json: new Set(),
    seeds: () => [{ 'm.safetensors': encodeSafetensors(smallTensors(), { format: 'pt' }) }, { 'm.safetensors': mixedSafetensors() }],
    run: (f) => {
      const st = SafetensorsFile.parse(f['m.safetensors']!);
      for (const [name, e] of st.entries) if (['F32', 'F16', 'BF16', 'F64'].includes(e.dtype)) st.get(name);
    },
  },
  {
    name: 'safetensors-folder',
    cases: 5_000,
    maxMs: 2000,
    json: new Set(['model.safetensors.index.json']),
    seeds: () => {
      const t = smallTensors();
      const index = { metadata: { total_size: 64 }, weight_map: { 'wte.weight': 'model-00001-of-00002.safetensors', 'h.0.ln.bias': 'model-00002-of-00002.safetensors', scalar: 'model-00002-of-00002.safetensors' } };
      return [{
        'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)),
        'model-00001-of-00002.safetensors': encodeSafetensors({ 'wte.weight': t['wte.weight']! }),
        'model-00002-of-00002.safetensors': encodeSafetensors({ 'h.0.ln.bias': t['h.0.ln.bias']!, scalar: t.scalar! }),
      }];
    },
    run: async (f, dir) => {
      writeAll(dir, f);
      const store = await readSafetensorsFolder(dir);
      for (const n of ['wte.weight', 'h.0.ln.bias', 'scalar']) if (store.has(n)) store.get(n);
    },
  },
  {
    name: 'image',
    cases: 10_000,
    maxMs: 2000,
    json: new Set(),
    seeds: () => [{ i: read('models/demo-image/sample-0.png') }, { i: read('models/demo-image/sample-1.png') }, { i: jpegSeed() }],
    run: (f) => void decodeImage(f.i!),
  },
  {
    name: 'vocab',
    cases: 10_000,
    maxMs: 1000,
    json: new Set(['v.json']),
    seeds: () => {
      const lines = text(read('models/demo-text/vocab.txt'));
      const obj = Object.fromEntries(lines.split('\n').filter((l) => l !== '').map((t, i) => [t, i]));
      return [{ 'v.txt': read('models/demo-text/vocab.txt') }, { 'v.json': new TextEncoder().encode(JSON.stringify(obj)) }];
    },
    run: (f) => {
      const v = parseVocabulary(text(f['v.txt'] ?? f['v.json']!), 'vocab');
      tokenize('the movie was great but the ending [UNK] dragged', v, 12, 'text');
    },
  },
  {
    name: 'labels',
    cases: 10_000,
    maxMs: 1000,
    json: new Set(['l.json', 'f.json']),
    seeds: () => [
      { 'l.json': read('models/demo-image/labels.json') },
      { 'l.json': new TextEncoder().encode('{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"], "7": "cock"}') },
      { 'l.txt': new TextEncoder().encode('cat\ndog\nbird\n') },
      { 'f.json': new TextEncoder().encode('["age", "income", "height", "weight"]') },
    ],
    run: (f) => {
      if (f['f.json']) parseFeatureNames(text(f['f.json']), 'features');
      else parseLabels(text(f['l.json'] ?? f['l.txt']!), 'labels');
    },
  },
  {
    name: 'hf-config',
    cases: 10_000,
    maxMs: 1000,
    json: new Set(['config.json']),
    seeds: () => [{ 'config.json': read('test/fixtures/transformers/models/gpt2_induction/config.json') }, { 'config.json': read('test/fixtures/transformers/models/llama_induction/config.json') }],
    // the folder holds config.json only: a config that passes ends in the typed "no weights" error
    run: async (f, dir) => {
      writeAll(dir, f);
      (await loadTransformer(dir)).dispose();
    },
  },
  {
    name: 'tfjs-model',
    cases: 5_000,
    maxMs: 5000,
    json: new Set(['model.json']),
    seeds: () => ['demo-tabular', 'demo-text'].map((m) => ({ 'model.json': read(`models/${m}/model.json`), 'weights.bin': read(`models/${m}/weights.bin`) })),
    run: async (f, dir) => {
      writeAll(dir, f);
      (await loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' })).dispose();
    },
  },
  {
    name: 'onnx',
    cases: 5_000,
    maxMs: 5000,
    json: new Set(),
    seeds: () => ['unet_opset10', 'lstm_fixed1_opset11', 'attention_opset11'].map((m) => ({ 'm.onnx': read(`test/fixtures/onnx/${m}.onnx`) })),
    run: async (f) => {
      (await fromOnnx(f['m.onnx']!, { cacheDir: false, intraOpNumThreads: 1 })).dispose();
    },
  },
];

/** A fresh scratch folder for the file-based targets. */
export const scratchDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'attrib-fuzz-'));
