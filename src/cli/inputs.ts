import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';
import type { Baseline, Target } from '../core/types.js';
import { isHooked, type ModelAdapter } from '../models/model.js';
import { decodeImage, type ImageData01 } from '../io/image.js';
import { isSparseLabels, parseFeatureNames, parseLabels, type ClassLabels } from '../io/labels.js';
import { describeNormalization, displayImages, IMAGE_LAYOUTS, inferLayout, preprocessImage, RESIZE_POLICIES, transposeImage, type ImageLayout, type PixelNormalization, type Preprocessing, type ResizePolicy } from '../io/preprocess.js';
import { parseNpy } from '../io/npy.js';
import { modelMetadata } from '../io/model-metadata.js';
import { parseTensorJson, type TensorData } from '../io/tensor-json.js';
import { gridMask, type FeatureMask } from '../attr/masks.js';
import { blurBaseline, noiseBaseline } from '../attr/baselines.js';
import { slic, textSpanMask, type TextSpan } from '../attr/segmentation.js';
import { parseVocabulary, tokenize, type Vocabulary } from '../io/vocab.js';
import type { FlagSpec } from './args.js';

/** An input batch and, for images, the decoded pictures (for overlays); for text, each position's word. */
export interface LoadedInput {
  readonly x: tf.Tensor;
  /** The pictures in [0, 1], channels last, at the size the model saw (image files and image-shaped tensors). */
  readonly images?: readonly ImageData01[];
  readonly tokens?: readonly (readonly string[])[];
  readonly source: string;
  /** Where the channel axis of an image batch is. */
  readonly layout?: ImageLayout;
  /** Image files: resize, normalisation and layout applied. */
  readonly preprocessing?: Preprocessing;
  /** Image-shaped tensors: how their values were mapped to [0, 1] for display. */
  readonly imageNote?: string;
  /** Things the user should know (e.g. a text cut to the model's length), one line each. */
  readonly warnings?: readonly string[];
}

/** `--normalize`, `--layout`, `--resize`: how image inputs are prepared for the model. */
export interface ImageOptions {
  readonly normalize?: PixelNormalization;
  /** Default: from the model's input shape (channels first when dim 1 is 1 or 3 and the last dim is not). */
  readonly layout?: ImageLayout;
  readonly resize?: ResizePolicy;
}

/**
 * The image options the user left out (`--normalize`, `--layout`), from the model's metadata
 * (`modelMetadata`), with the words of a note saying what was taken, if anything.
 */
export function imageOptionsFromModel(model: ModelAdapter, given: ImageOptions): { readonly options: ImageOptions; readonly taken: readonly string[] } {
  const meta = modelMetadata(model);
  const taken: string[] = [];
  let options = given;
  if (given.normalize === undefined && meta.normalize) {
    options = { ...options, normalize: meta.normalize.value };
    taken.push(`normalisation ${describeNormalization(meta.normalize.value)} ('${meta.normalize.keys}')`);
  }
  // the metadata's layout only where the input shape leaves it open (tf2onnx keeps
  // data_format=channels_last on graphs it made channels-first)
  if (given.layout === undefined && meta.layout && inferLayout(model.inputShape) === undefined) {
    options = { ...options, layout: meta.layout.value };
    taken.push(`layout ${meta.layout.value} ('${meta.layout.key}')`);
  }
  return { options, taken };
}

/** `--normalize`, `--layout`, `--resize` (explain and evaluate). */
export const IMAGE_FLAGS: readonly FlagSpec[] = [
  { name: 'normalize', type: 'string', help: 'pixel range the model takes: [0,1], [-1,1], [0,255], imagenet, or mean,std of pixels in [0,1] (0.5,0.5 or 0.485,0.456,0.406/0.229,0.224,0.225); tensor inputs are taken as given and only shown undone', default: '[0,1]' },
  { name: 'layout', type: 'string', help: "image layout the model takes: nhwc or nchw (default: from the model's input shape)" },
  { name: 'resize', type: 'string', help: "an image of another size than the model's: stretch, fit (keep aspect, pad black), crop (keep aspect, cut the centre) or none (refuse)", default: 'stretch' },
];

/** ImageNet's mean and std of pixels in [0, 1] (torchvision's models). */
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

/**
 * `--normalize`: `[0,1]` (default), `[-1,1]`, `[0,255]`, `imagenet`, or mean and std of pixels in
 * [0, 1]: `MEAN,STD` (every channel), `M1,M2,M3,S1,S2,S3` (per channel), or `M1,M2,M3/S1,S2,S3`.
 */
export function parseNormalize(value: string): PixelNormalization {
  const v = value.trim().replace(/\s+/g, '');
  if (v === '[0,1]' || v === '[-1,1]' || v === '[0,255]') return v;
  if (v === 'imagenet') return { mean: [...IMAGENET.mean], std: [...IMAGENET.std] };
  const bad = () =>
    new InvalidArgumentError(`Option '--normalize' must be [0,1], [-1,1], [0,255], imagenet, or mean and std (e.g. 0.5,0.5 or 0.485,0.456,0.406/0.229,0.224,0.225), got '${value}'`, {
      arg: 'normalize',
      value,
    });
  const nums = (s: string) => (s === '' ? [NaN] : s.split(',').map(Number));
  let mean: number[];
  let std: number[];
  if (v.includes('/')) {
    const [m, s, ...rest] = v.split('/');
    if (rest.length > 0) throw bad();
    [mean, std] = [nums(m!), nums(s!)];
  } else {
    const all = nums(v);
    if (all.length % 2 !== 0) throw bad();
    [mean, std] = [all.slice(0, all.length / 2), all.slice(all.length / 2)];
  }
  if (mean.length !== std.length || mean.length === 0 || ![...mean, ...std].every(Number.isFinite)) throw bad();
  if (!std.every((s) => s > 0)) {
    throw new InvalidArgumentError(`Option '--normalize': every std must be > 0, got ${std.join(',')}`, { arg: 'normalize', value });
  }
  return { mean, std };
}

/** `--layout nhwc|nchw`. */
export function parseLayout(value: string): ImageLayout {
  if (!(IMAGE_LAYOUTS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`Option '--layout' must be one of ${IMAGE_LAYOUTS.join(', ')}, got '${value}'`, { arg: 'layout', value, allowed: IMAGE_LAYOUTS });
  }
  return value as ImageLayout;
}

/** `--resize stretch|fit|crop|none`. */
export function parseResize(value: string): ResizePolicy {
  if (!(RESIZE_POLICIES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`Option '--resize' must be one of ${RESIZE_POLICIES.join(', ')}, got '${value}'`, { arg: 'resize', value, allowed: RESIZE_POLICIES });
  }
  return value as ResizePolicy;
}

/** The image options of parsed flags (`--normalize`, `--layout`, `--resize`), checked. */
export function imageOptions(flags: ReadonlyMap<string, unknown>): ImageOptions {
  const get = (name: string) => {
    const v = flags.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new InvalidArgumentError(`Option '--${name}' needs a value`, { arg: name });
    return v;
  };
  const [n, l, r] = [get('normalize'), get('layout'), get('resize')];
  return { ...(n === undefined ? {} : { normalize: parseNormalize(n) }), ...(l === undefined ? {} : { layout: parseLayout(l) }), ...(r === undefined ? {} : { resize: parseResize(r) }) };
}

/** Reads `--labels FILE`: one label per line, a JSON array, or a JSON object {index: label}; at most 16 MiB. */
export async function readLabels(file: string): Promise<{ labels: ClassLabels; sparse: boolean }> {
  const text = await readSmallText(file, 'labels');
  return { labels: parseLabels(text, `'${file}'`), sparse: isSparseLabels(text) };
}

/** Reads `--feature-names FILE`: one name per line or a JSON array; at most 16 MiB. */
export async function readFeatureNames(file: string): Promise<string[]> {
  return parseFeatureNames(await readSmallText(file, 'feature names'), `'${file}'`);
}

async function readSmallText(file: string, what: string): Promise<string> {
  const stat = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new FileFormatError(`Cannot read ${what} '${file}' (${e.code ?? 'error'})`, { file }, e);
  });
  if (!stat.isFile()) throw new FileFormatError(`${what} '${file}' is not a file`, { file });
  if (stat.size > 16 * 2 ** 20) throw new FileFormatError(`${what} '${file}' is ${stat.size} bytes; at most 16 MiB are read`, { file });
  return new TextDecoder().decode(await readBytes(file, what));
}

/** Reads a vocabulary file (one token per line, or JSON {token: id}); at most 64 MiB. */
export async function readVocabulary(file: string): Promise<Vocabulary> {
  const stat = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new FileFormatError(`Cannot read vocabulary '${file}' (${e.code ?? 'error'})`, { file }, e);
  });
  if (stat.size > 64 * 2 ** 20) throw new FileFormatError(`Vocabulary '${file}' is ${stat.size} bytes; at most 64 MiB are read`, { file });
  return parseVocabulary(new TextDecoder().decode(await readBytes(file, 'vocabulary')), `'${file}'`);
}

/**
 * Text inputs of a token-id model: `texts` (one per row) tokenized with the vocabulary and padded to
 * the model's sequence length; ids as float32 (TF.js Embedding layers cast them).
 */
export function textInput(texts: readonly string[], vocab: Vocabulary, model: ModelAdapter, source: string): LoadedInput {
  const length = model.inputShape[1];
  if (model.inputShape.length !== 2 || typeof length !== 'number') {
    throw new ShapeMismatchError(`Text input ${source} needs a model that takes token ids [batch, length]; model '${model.name}' takes [${model.inputShape.map((d) => d ?? '*').join(', ')}]`, {
      arg: 'input',
      expected: model.inputShape,
    });
  }
  if (texts.length === 0 || texts.every((t) => t.trim() === '')) throw new InvalidArgumentError(`Text input ${source} is empty: give one text per line`, { arg: 'input' });
  const embeddingRows = isHooked(model) ? model.embeddingRows : undefined;
  if (embeddingRows !== undefined && vocab.tokens.length > embeddingRows) {
    throw new InvalidArgumentError(`The vocabulary has ${vocab.tokens.length} ids but the model's embedding has ${embeddingRows} rows: it is not this model's vocabulary`, {
      arg: 'vocab',
      vocabulary: vocab.tokens.length,
      embedding: embeddingRows,
    });
  }
  const rows = texts.map((t, i) => tokenize(t, vocab, length, `${source} line ${i + 1}`));
  const warnings = rows.flatMap((r, i) => (r.truncated > 0 ? [`attrib: warning: ${source}${texts.length > 1 ? ` line ${i + 1}` : ''} has ${length + r.truncated} tokens; the model reads ${length}, so the last ${r.truncated} are left out`] : []));
  return { x: tf.tensor2d(rows.flatMap((r) => r.ids), [rows.length, length], 'float32'), tokens: rows.map((r) => r.labels), source, ...(warnings.length > 0 ? { warnings } : {}) };
}

/** Reads a text file of one input per line (blank lines skipped). */
export async function readTextLines(file: string): Promise<string[]> {
  const text = new TextDecoder().decode(await readBytes(file, 'input'));
  return text.split(/\r?\n/).filter((l) => l.trim().length > 0);
}

/** Largest input, baseline, mask or text file read (1 GiB). */
export const MAX_INPUT_BYTES = 2 ** 30;

async function readBytes(file: string, what: string): Promise<Uint8Array> {
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) throw new FileFormatError(`${what} '${file}' is a folder, not a file`, { file });
    if (stat.size > MAX_INPUT_BYTES) throw new FileFormatError(`${what} '${file}' is ${stat.size} bytes; at most ${MAX_INPUT_BYTES} are read`, { file, size: stat.size, max: MAX_INPUT_BYTES });
    return new Uint8Array(await fs.readFile(file));
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(`Cannot read ${what} '${file}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file }, e);
  }
}

/** Reads tensor data from `.json` or `.npy`. */
export async function readTensorFile(file: string, what: string): Promise<TensorData> {
  return parseTensorBytes(await readBytes(file, what), file, what);
}

/** Tensor data from the bytes of a `.json` or `.npy` file named `file` (an upload or a file read). */
export function parseTensorBytes(bytes: Uint8Array, file: string, what: string): TensorData {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return parseNpy(bytes, `${what} '${file}'`);
  if (ext === '.json') return parseTensorJson(new TextDecoder().decode(bytes), `${what} '${file}'`);
  throw new FileFormatError(`${what} '${file}' must be .json, .npy${what === 'input' ? ', .png or .jpg' : ''}`, { file });
}

/**
 * Reads the input batch: tensor JSON, `.npy`, or an image (PNG/JPEG → one row in [0, 1], brought to
 * the model's input size with the `resize` policy, normalised and laid out as `opts` say). Tensor
 * inputs are taken as they are; image-shaped ones ([N, H, W, C] or [N, C, H, W], C = 1 or 3) also
 * come back as pictures for the report (`opts.normalize`, when given, is undone for display).
 */
export async function readInput(file: string, model: ModelAdapter, opts: ImageOptions & { readonly maxPixels?: number | undefined } = {}): Promise<LoadedInput> {
  return inputFromBytes(await readBytes(file, 'input'), file, model, opts);
}

/**
 * `readInput` on bytes already in memory (an upload): `file` names them (its extension chooses the
 * format) and appears in error messages. The same checks as a file read: image size from the header
 * before decoding, tensor shape against the model.
 */
export async function inputFromBytes(bytes: Uint8Array, file: string, model: ModelAdapter, opts: ImageOptions & { readonly maxPixels?: number | undefined } = {}): Promise<LoadedInput> {
  const ext = path.extname(file).toLowerCase();
  const want = model.inputShape;
  if (ext === '.png' || ext === '.jpg' || ext === '.jpeg') {
    const layout = opts.layout ?? inferLayout(want) ?? 'nhwc';
    const [c, h, w] = want.length !== 4 ? [undefined, undefined, undefined] : layout === 'nchw' ? [want[1], want[2], want[3]] : [want[3], want[1], want[2]];
    if (typeof c === 'number' && c !== 1 && c !== 3) {
      throw new ShapeMismatchError(`Input '${file}' is an image, but with layout ${layout} the model's input [${want.map((d) => d ?? 'batch').join(', ')}] has ${c} channels (1 or 3 expected)${opts.layout ? '' : '; give --layout nhwc or nchw'}`, {
        arg: 'layout',
        expected: want,
        layout,
      });
    }
    const channels = c === 1 ? 1 : 3;
    const img = decodeImage(bytes, { channels, source: `input '${file}'`, ...(opts.maxPixels === undefined ? {} : { maxPixels: opts.maxPixels }) });
    const size = typeof h === 'number' && typeof w === 'number' ? { width: w, height: h } : {};
    const p = preprocessImage(img, { ...size, layout, ...(opts.normalize ? { normalize: opts.normalize } : {}), ...(opts.resize ? { resize: opts.resize } : {}) });
    const x = tf.tensor(p.data, [...p.shape], 'float32');
    try {
      checkInputShape(x, model, file);
    } catch (e) {
      x.dispose();
      throw e;
    }
    return { x, images: [p.image], source: file, layout, preprocessing: p.preprocessing };
  }
  const t = parseTensorBytes(bytes, file, 'input');
  const x = tf.tensor(t.dtype === 'int32' ? Float32Array.from(t.data) : t.data, [...t.shape], 'float32');
  try {
    checkInputShape(x, model, file);
  } catch (e) {
    x.dispose();
    throw e;
  }
  const layout = x.rank === 4 ? (opts.layout ?? inferLayout(x.shape)) : undefined;
  const shown = layout ? displayImages(t.data, t.shape, layout, opts.normalize) : undefined;
  if (!layout || !shown) return { x, source: file };
  const note = { denormalized: 'normalisation undone for display', 'as-is': undefined, 'divided by 255': 'values divided by 255 for display', 'min-max': 'values stretched from their min to their max for display' }[shown.mapping];
  return { x, source: file, layout, images: shown.images, ...(note ? { imageNote: note } : {}) };
}

function checkInputShape(x: tf.Tensor, model: ModelAdapter, file: string): void {
  const want = model.inputShape;
  if (want.length <= 1) return;
  const ok = x.rank === want.length && want.every((d, i) => d === null || d === x.shape[i]);
  if (!ok) {
    const hint = x.rank === want.length - 1 ? ' (the batch dimension is missing: wrap the data in one more array)' : '';
    throw new ShapeMismatchError(`Input '${file}' has shape [${x.shape.join(', ')}] but the model takes [${want.map((d) => d ?? 'batch').join(', ')}]${hint}`, {
      arg: 'input',
      expected: want,
      actual: x.shape,
    });
  }
}

/** `--target`: an integer, one integer per row (comma-separated), or `auto`. */
export function parseTarget(value: string | undefined, rows: number): Target {
  if (value === undefined || value === 'auto') return 'auto';
  const parts = value.split(',').map((p) => p.trim());
  const nums = parts.map(Number);
  if (nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError(`Option '--target' must be a non-negative integer, a comma-separated list of them, or 'auto', got '${value}'`, { arg: 'target', value });
  }
  if (nums.length === 1) return nums[0]!;
  if (nums.length !== rows) {
    throw new InvalidArgumentError(`Option '--target' lists ${nums.length} targets for ${rows} input rows; give one per row or a single one`, { arg: 'target' });
  }
  return nums;
}

/** `--baseline`: `zeros`, a number, or a tensor file. */
export async function parseBaseline(value: string | undefined): Promise<Baseline | undefined> {
  if (value === undefined || value === 'zeros') return undefined;
  const n = Number(value);
  if (value.trim() !== '' && Number.isFinite(n)) return n;
  const spec = /^(blur|noise):([0-9.eE+-]+)$/.exec(value.trim());
  if (spec) {
    const amount = Number(spec[2]);
    if (!(amount > 0)) throw new InvalidArgumentError(`--baseline ${value}: the ${spec[1]} amount must be a positive number`, { arg: 'baseline', value });
    // blur:σ — Gaussian blur of the input (σ in pixels); noise:σ — seeded Gaussian noise around 0.5, clipped to [0, 1]
    return spec[1] === 'blur' ? blurBaseline(amount) : noiseBaseline({ std: amount, mean: 0.5, min: 0, max: 1 });
  }
  const t = await readTensorFile(value, 'baseline');
  return tf.tensor(Float32Array.from(t.data), [...t.shape]);
}

/**
 * `--feature-mask`: a mask file (.json/.npy), or a segmentation of the input computed here:
 * `slic[:segments[:compactness]]` (superpixels of an image), `grid:B` (B×B blocks),
 * `words` / `sentences` / `paragraphs` (spans of a text input). Segmentations need one input row.
 */
export async function featureMaskFlag(value: string, input: LoadedInput): Promise<FeatureMask> {
  checkFeatureMaskSpec(value);
  const x = input.x;
  const one = (what: string) => {
    if (x.shape[0] !== 1) {
      throw new InvalidArgumentError(`--feature-mask ${value}: ${what} are computed per input, so give one input row (got ${x.shape[0]}) or pass a mask file`, { arg: 'feature-mask', rows: x.shape[0] });
    }
  };
  const slicSpec = SLIC_SPEC.exec(value);
  if (slicSpec) {
    one('superpixels');
    if (x.rank !== 4 && x.rank !== 3) throw new InvalidArgumentError(`--feature-mask slic needs an image input [1, H, W, C], got [${x.shape.join(', ')}]`, { arg: 'feature-mask' });
    const [h, w] = [x.shape[1]!, x.shape[2]!];
    const c = x.rank === 4 ? x.shape[3]! : 1;
    const data = (await x.data()) as Float32Array;
    return slic({ data, height: h, width: w, channels: c }, { ...(slicSpec[1] ? { segments: Number(slicSpec[1]) } : {}), ...(slicSpec[2] ? { compactness: Number(slicSpec[2]) } : {}) });
  }
  const gridSpec = /^grid:(\d+)$/.exec(value);
  if (gridSpec) {
    if (x.rank !== 4) throw new InvalidArgumentError(`--feature-mask grid needs an image input [batch, H, W, C], got [${x.shape.join(', ')}]`, { arg: 'feature-mask' });
    return gridMask([x.shape[1]!, x.shape[2]!, x.shape[3]!], Number(gridSpec[1]));
  }
  const spans: Record<string, TextSpan> = { words: 'word', sentences: 'sentence', paragraphs: 'paragraph' };
  if (value in spans) {
    one('text spans');
    const tokens = input.tokens?.[0];
    if (!tokens) throw new InvalidArgumentError(`--feature-mask ${value} needs a text input (--text or a .txt file, with --vocab)`, { arg: 'feature-mask' });
    return textSpanMask(tokens, spans[value]!);
  }
  return readFeatureMask(value);
}

/**
 * `--feature-mask` for any image layout: segmentations (slic, grid) of a channels-first input are
 * computed on its channels-last view and laid out as [C, H, W] again; everything else is `featureMaskFlag`.
 */
export async function featureMaskForInput(value: string, input: LoadedInput): Promise<FeatureMask> {
  if (input.layout !== 'nchw' || input.x.rank !== 4 || !/^(slic|grid)\b/.test(value)) return featureMaskFlag(value, input);
  const [, c, h, w] = input.x.shape as [number, number, number, number];
  const hwc = tf.transpose(input.x, [0, 2, 3, 1]);
  try {
    const m = await featureMaskFlag(value, { ...input, x: hwc });
    if (m.ids.length === h * w * c) return { ids: Int32Array.from(transposeImage(m.ids, h, w, c, 'nchw')), shape: [c, h, w] };
    return { ids: m.ids, shape: [1, h, w] };
  } finally {
    hwc.dispose();
  }
}

/** `slic[:N[:c]]`: N an integer, c a decimal number (exponent allowed). */
const SLIC_SPEC = /^slic(?::(\d+))?(?::(\d*\.?\d+(?:[eE][+-]?\d+)?))?$/;

/**
 * Checks the syntax of a `--feature-mask` segmentation (`slic[:N[:c]]`, `grid:B`) before any work:
 * N and B positive integers, c a positive number. Other values are span names or mask files.
 *
 * @throws {InvalidArgumentError} `invalid_argument` with `details.arg = 'feature-mask'`.
 */
export function checkFeatureMaskSpec(value: string): void {
  const head = /^(slic|grid)(?::|$)/.exec(value);
  if (!head) return;
  const bad = (want: string) => new InvalidArgumentError(`--feature-mask ${JSON.stringify(value)}: ${want}`, { arg: 'feature-mask', value });
  if (head[1] === 'grid') {
    const m = /^grid:(\d+)$/.exec(value);
    if (!m || !(Number(m[1]) >= 1)) throw bad('grid:B needs a block size B ≥ 1 (pixels), e.g. grid:8');
    return;
  }
  const m = SLIC_SPEC.exec(value);
  if (!m || (m[1] !== undefined && !(Number(m[1]) >= 1)) || (m[2] !== undefined && !(Number(m[2]) > 0))) {
    throw bad('slic[:N[:c]] needs N ≥ 1 superpixels and a compactness c > 0, e.g. slic:50 or slic:50:10');
  }
}

/** `--feature-mask FILE`: integer ids with one row's shape (or broadcastable). */
export async function readFeatureMask(file: string): Promise<FeatureMask> {
  const t = await readTensorFile(file, 'feature mask');
  const ids = Int32Array.from(t.data, (v) => Math.round(v));
  return { ids, shape: t.shape };
}

/**
 * The names of `--inputs name=FILE,…` checked against the model's inputs (when the adapter lists them)
 * before any file is read: each must name one of the model's other inputs, once.
 *
 * @throws {InvalidArgumentError} `invalid_argument` with `details.input` and `details.inputs`.
 */
export function checkNamedInputs(spec: string, model: ModelAdapter): void {
  const names = model.inputNames;
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) {
      throw new InvalidArgumentError(`Option '--inputs' must be name=FILE[,name=FILE…], got '${part}'`, { arg: 'inputs', value: part });
    }
    const name = part.slice(0, eq).trim();
    if (seen.has(name)) throw new InvalidArgumentError(`Option '--inputs' names input '${name}' twice`, { arg: 'inputs', input: name });
    seen.add(name);
    if (names === undefined) continue;
    const others = names.slice(1);
    if (name === names[0]) {
      throw new InvalidArgumentError(`Option '--inputs' names '${name}', the input being explained (it comes from --input)`, { arg: 'inputs', input: name, inputs: others });
    }
    if (!others.includes(name)) {
      throw new InvalidArgumentError(`Option '--inputs' names '${name}', which is not an input of the model; its other inputs: ${others.length > 0 ? others.join(', ') : '(none)'}`, {
        arg: 'inputs',
        input: name,
        inputs: others,
      });
    }
  }
}

/** `--inputs name=FILE[,name=FILE…]`: the model's other inputs, read as tensors (integers stay int32). */
export async function readNamedInputs(spec: string): Promise<Record<string, tf.Tensor>> {
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0 || eq === part.length - 1) {
        throw new InvalidArgumentError(`Option '--inputs' must be name=FILE[,name=FILE…], got '${part}'`, { arg: 'inputs', value: part });
      }
      const name = part.slice(0, eq).trim();
      const t = await readTensorFile(part.slice(eq + 1).trim(), `input '${name}'`);
      out[name] = tf.tensor(t.data, [...t.shape], t.dtype);
    }
    return out;
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
}
