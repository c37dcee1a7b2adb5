// The studio's in-browser engine (a bundle of its own, /local.js, loaded when "run in browser" is first
// used): the library itself on TF.js's wasm backend (TF.js models) or onnxruntime-web's wasm (ONNX
// models, differentiated by the library's backward graphs), the model's files fetched from the studio's
// token-checked model routes, the input decoded and preprocessed as the CLI does. No attribution is
// computed on the server.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-web';
import { CapabilityError, InvalidArgumentError, ModelLoadError } from '../../../core/errors.js';
import type { Progress, Target } from '../../../core/types.js';
import type { CatalogueOptions } from '../../../core/method.js';
import { gridMask } from '../../../attr/masks.js';
import { preprocessImage } from '../../../io/preprocess.js';
import type { ImageData01 } from '../../../io/image.js';
import { parseTensorJson } from '../../../io/tensor-json.js';
import { fromLayersModel } from '../../../models/tfjs/layers-model.js';
import { fromOnnx } from '../../../models/onnx/web.js';
import type { ModelAdapter } from '../../../models/model.js';
import { findMethod } from '../../../methods.js';
import { mapScale, reduceChannels } from '../../../viz/heatmap.js';

/** A job run in the page: the same fields the app sends to `POST /api/jobs`, and the input's bytes. */
export interface LocalJob {
  readonly model: string;
  /** The model's format, as `GET /api/models` lists it. */
  readonly format: ModelFormat;
  readonly method: string;
  readonly options: Readonly<Record<string, string>>;
  readonly target: string;
  readonly baseline: string;
  readonly input: { readonly name: string; readonly bytes: Uint8Array };
}

/** What a local job gives the result card: the attribution, and for images the maps drawn as the server draws them. */
export interface LocalOutcome {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly target?: readonly number[];
  readonly diagnostics: { readonly evaluations: number; readonly elapsedMs: number; readonly engine: string; readonly convergenceDelta?: readonly number[] };
  readonly image?: { readonly height: number; readonly width: number; readonly maps: readonly Float32Array[]; readonly scales: readonly number[]; readonly images: readonly ImageData01[] };
}

/** A model folder's format: TF.js `model.json`, or ONNX (`model.onnx`, or an `.onnx` file). */
export type ModelFormat = 'tfjs' | 'onnx';

const IMAGE = /\.(png|jpe?g)$/i;
/** Models kept loaded in the page (by id); one at a time is enough for the studio. */
let loaded: { id: string; model: Promise<ModelAdapter> } | undefined;
let backend: Promise<void> | undefined;

/**
 * TF.js on its wasm backend, the binaries served by the studio itself (`/wasm/`), and onnxruntime-web
 * on one thread with its files from `/ort/`: never from the network.
 */
function ready(): Promise<void> {
  backend ??= (async () => {
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = 1;
    setWasmPaths('/wasm/');
    if (!(await tf.setBackend('wasm'))) throw new CapabilityError('TF.js could not start its wasm backend in this browser (WebAssembly refused?); run the job on the server instead', { backend: 'wasm' });
    await tf.ready();
  })();
  return backend;
}

/** Loads a TF.js layers model or an ONNX model through `/api/models/:id/files/` with the session token (weights too). */
function model(id: string, format: ModelFormat, token: string): Promise<ModelAdapter> {
  if (loaded?.id === id) return loaded.model;
  const previous = loaded;
  loaded = {
    id,
    model: (async () => {
      if (previous) (await previous.model.catch(() => undefined))?.dispose();
      const files = `/api/models/${encodeURIComponent(id)}/files/`;
      if (format === 'onnx') {
        const name = /\.onnx$/i.test(id) ? id.slice(id.lastIndexOf('/') + 1) : 'model.onnx';
        const res = await fetch(files + encodeURIComponent(name), { headers: { 'x-attrib-token': token } });
        if (!res.ok) throw new ModelLoadError(`Model '${id}' could not be fetched from the studio (HTTP ${res.status})`, { model: id, status: res.status });
        return fromOnnx(new Uint8Array(await res.arrayBuffer()), { name: id });
      }
      const url = `${files}model.json`;
      return fromLayersModel(await tfl.loadLayersModel(tf.io.http(url, { requestInit: { headers: { 'x-attrib-token': token } } })));
    })(),
  };
  const mine = loaded;
  // a failed load is not kept: the next job tries again
  mine.model.catch(() => (loaded === mine ? (loaded = undefined) : undefined));
  return mine.model;
}

/**
 * Starts the wasm backend and loads model `id` ahead of the first job (the app calls it when
 * "run in browser" is checked, so the first heatmap waits only for its computation).
 * @throws {AttributionError} `capability_missing` when wasm cannot start; `model_load` for a model TF.js cannot read.
 */
export async function prepare(id: string, format: ModelFormat, token: string): Promise<void> {
  await ready();
  await model(id, format, token);
}

/** Tensors alive in the page's TF.js (a job leaves it as it found it; the loaded model's weights stay). */
export const liveTensors = (): number => tf.memory().numTensors;

/** Decodes a PNG or JPEG in the page (exact bytes: no colour conversion, no premultiplied alpha) as the CLI's decodeImage: RGB floats in [0, 1]. */
async function decode(bytes: Uint8Array, channels: 1 | 3): Promise<ImageData01> {
  const bitmap = await createImageBitmap(new Blob([new Uint8Array(bytes)]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { colorSpace: 'srgb' });
  if (!ctx) throw new CapabilityError('The browser gave no 2D canvas to decode the image; run the job on the server instead', {});
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const [width, height] = [bitmap.width, bitmap.height];
  bitmap.close();
  const data = new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = [rgba[p * 4]! / 255, rgba[p * 4 + 1]! / 255, rgba[p * 4 + 2]! / 255];
    if (channels === 1) data[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else (data[p * 3] = r), (data[p * 3 + 1] = g), (data[p * 3 + 2] = b);
  }
  return { width, height, channels, data };
}

/** The input tensor: an image resized to the model's size (the CLI's preprocessImage), or a tensor .json. */
async function input(job: LocalJob, shape: readonly (number | null)[]): Promise<{ x: tf.Tensor; images?: ImageData01[] }> {
  if (IMAGE.test(job.input.name)) {
    const [h, w, c] = [shape[1], shape[2], shape[3]];
    if (shape.length !== 4 || (c !== 1 && c !== 3)) throw new InvalidArgumentError(`Input '${job.input.name}' is an image but the model takes [${shape.map((d) => d ?? 'batch').join(', ')}]; the page runs NHWC image models with 1 or 3 channels`, { arg: 'input' });
    const img = await decode(job.input.bytes, c);
    const p = preprocessImage(img, { ...(typeof h === 'number' && typeof w === 'number' ? { height: h, width: w } : {}), layout: 'nhwc' });
    return { x: tf.tensor(p.data, [...p.shape], 'float32'), images: [p.image] };
  }
  if (/\.json$/i.test(job.input.name)) {
    const t = parseTensorJson(new TextDecoder().decode(job.input.bytes), job.input.name);
    return { x: tf.tensor(Float32Array.from(t.data), [...t.shape], 'float32') };
  }
  throw new InvalidArgumentError(`Input '${job.input.name}' cannot be read in the page (PNG, JPEG or tensor .json); run the job on the server`, { arg: 'input' });
}

/** The form's option strings as the method's typed options (the catalogue's types; checks as the CLI's flags do). */
function typedOptions(job: LocalJob, rowShape: readonly number[]): { options: Record<string, unknown>; inner?: string } {
  const method = findMethod(job.method);
  const options: Record<string, unknown> = {};
  let inner: string | undefined;
  for (const [name, raw] of Object.entries(job.options)) {
    const decl = method.options.find((o) => o.name === name);
    const bad = (what: string) => new InvalidArgumentError(`Option '${name}' of '${job.method}' must be ${what}, got '${raw}'`, { arg: name, value: raw });
    if (!decl) throw new InvalidArgumentError(`Method '${job.method}' has no option '${name}'`, { arg: name });
    if (decl.type === 'int' || decl.type === 'number') {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v) || (decl.type === 'int' && !Number.isInteger(v))) throw bad(decl.type === 'int' ? 'an integer' : 'a number');
      options[name] = v;
    } else if (decl.type === 'bool') options[name] = raw === 'true' || raw === '1';
    else if (decl.type === 'enum') {
      if (!decl.values?.includes(raw)) throw bad(`one of ${decl.values?.join(', ')}`);
      options[name] = raw;
    } else if (decl.type === 'int-list' || decl.type === 'number-list') {
      const v = raw.split(',').map(Number);
      if (v.some((n) => !Number.isFinite(n))) throw bad('a comma-separated list of numbers');
      options[name] = v.length === 1 ? v[0] : v;
    } else if (decl.type === 'mask') {
      const m = /^grid:(\d{1,4})$/.exec(raw);
      if (!m || rowShape.length !== 3) throw bad('grid:B on an image model (other masks run on the server)');
      options[name] = gridMask(rowShape as [number, number, number], Number(m[1]));
    } else inner = raw;
  }
  return { options, ...(inner ? { inner } : {}) };
}

function parseTarget(s: string): Target {
  if (s === 'auto') return 'auto';
  const v = s.split(',').map(Number);
  if (v.some((n) => !Number.isInteger(n) || n < 0)) throw new InvalidArgumentError(`Target must be auto or output indices (one per row), got '${s}'`, { arg: 'target' });
  return v.length === 1 ? v[0]! : v;
}

function parseBaseline(s: string): number | undefined {
  if (s === 'zeros') return undefined;
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`Baseline '${s}' runs on the server only; the page takes zeros or a number`, { arg: 'baseline' });
  return v;
}

/**
 * Runs one attribution in the page with the library (TF.js wasm). `signal` cancels it.
 * Cost: the method's own (as on the server), plus the model's download on first use.
 * @throws {AttributionError} as the library throws (bad options, `aborted`, `capability_missing`).
 */
export async function runLocal(job: LocalJob, token: string, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<LocalOutcome> {
  await ready();
  const m = await model(job.model, job.format, token);
  const { x, images } = await input(job, m.inputShape);
  try {
    const { options, inner } = typedOptions(job, x.shape.slice(1));
    const baseline = parseBaseline(job.baseline);
    const opts: Record<string, unknown> = { ...options, target: parseTarget(job.target), signal, onProgress, ...(baseline !== undefined ? { baselines: baseline } : {}) };
    const method = findMethod(job.method).create(m, { ...(inner ? { inner } : {}), options: opts } as Parameters<ReturnType<typeof findMethod>['create']>[1]);
    const attr = await method.attribute(x, opts as CatalogueOptions);
    try {
      const data = (await attr.values.data()) as Float32Array;
      const shape = attr.values.shape;
      const d = attr.diagnostics;
      const diagnostics = { evaluations: d.evaluations, elapsedMs: d.elapsedMs, engine: job.format === 'onnx' ? 'onnxruntime-web wasm (browser)' : `tfjs-${tf.getBackend()} (browser)`, ...(d.convergenceDelta ? { convergenceDelta: Array.from(d.convergenceDelta) } : {}) };
      const geometry = shape.length === 4 && (shape[3] === 1 || shape[3] === 3) ? { rows: shape[0]!, height: shape[1]!, width: shape[2]!, channels: shape[3]! } : undefined;
      const maps = geometry ? Array.from({ length: geometry.rows }, (_, i) => reduceChannels(data.subarray(i * geometry.height * geometry.width * geometry.channels, (i + 1) * geometry.height * geometry.width * geometry.channels), geometry.height, geometry.width, geometry.channels, 'sum')) : [];
      const image = geometry && images ? { height: geometry.height, width: geometry.width, maps, scales: maps.map((p) => mapScale(p)), images } : undefined;
      return { shape, data: Float32Array.from(data), ...(d.targets ? { target: Array.from(d.targets) } : {}), diagnostics, ...(image ? { image } : {}) };
    } finally {
      attr.dispose();
    }
  } finally {
    x.dispose();
  }
}
