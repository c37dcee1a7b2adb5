import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../src/io/load-model.js';
import type { DifferentiableModel } from '../src/models/model.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REFERENCE_DIR = path.join(ROOT, 'test', 'fixtures', 'reference');
export type RefModel = 'tabular_mlp' | 'image_cnn' | 'text_cnn';

interface JsonTensor {
  shape: number[];
  data: number[];
}
export interface RefMethod {
  method: string;
  params: Record<string, unknown>;
  stochastic: boolean;
  attributions: JsonTensor;
  convergence_delta?: JsonTensor;
  attributions_per_dim?: JsonTensor;
}
export interface Reference {
  targets: number[];
  logits: JsonTensor;
  baseline_logits: JsonTensor;
  methods: Record<string, RefMethod>;
}

const cache = new Map<string, unknown>();
function readJson<T>(file: string): T {
  if (!cache.has(file)) cache.set(file, JSON.parse(readFileSync(file, 'utf8')));
  return cache.get(file) as T;
}

export const referencePath = (m: RefModel, file: string): string => path.join(REFERENCE_DIR, 'models', m, file);
export const reference = (m: RefModel): Reference => readJson<Reference>(path.join(REFERENCE_DIR, 'reference', `${m}.json`));
export function examples(m: RefModel): tf.Tensor {
  const ex = readJson<{ inputs: JsonTensor }>(referencePath(m, 'examples.json'));
  return tf.tensor(ex.inputs.data, ex.inputs.shape, 'float32');
}
/** A reference model.json on TF.js (the engine these parity tests are about), or on another engine. */
export const loadReferenceModel = async (m: RefModel, engine: 'tfjs' | 'onnx' | 'auto' = 'tfjs'): Promise<DifferentiableModel> =>
  (await loadModel(referencePath(m, 'model.json'), { engine })) as DifferentiableModel;

/** max |a − e| / max |e| (the reference README's metric). */
export async function relError(actual: tf.Tensor, expected: JsonTensor | number[], shape?: number[]): Promise<number> {
  const e = Array.isArray(expected) ? expected : expected.data;
  const want = Array.isArray(expected) ? shape : expected.shape;
  if (want && JSON.stringify(actual.shape) !== JSON.stringify(want)) throw new Error(`shape [${actual.shape}] != [${want}]`);
  const a = await actual.data();
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - e[i]!));
    den = Math.max(den, Math.abs(e[i]!));
  }
  return num / (den || 1);
}

const created: string[] = [];
/** A fresh temporary directory, removed by `removeTempDirs()` (call it in afterAll). */
export function tempDir(prefix = 'attrib-test-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
}
