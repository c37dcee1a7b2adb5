// One studio job: a method on a model and an input, through the library and the CLI's own input
// and output code (the same checks, the same result JSON, the same heatmaps).
import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../../core/errors.js';
import type { MethodId, Progress } from '../../core/types.js';
import type { CatalogueOptions } from '../../core/method.js';
import type { FeatureMask } from '../../attr/masks.js';
import type { ImageData01 } from '../../io/image.js';
import { deletionCurve, insertionCurve } from '../../metrics/deletion.js';
import { findMethod, type MethodDescriptor } from '../../methods.js';
import { mapScale } from '../../viz/heatmap.js';
import { kebab, parseFlags, type FlagValue } from '../args.js';
import { engineFor } from '../backend.js';
import { checkSteps, methodFlagSpecs, methodOptions, modelOutputs } from '../commands/explain.js';
import { checkFeatureMaskSpec, inputFromBytes, parseBaseline, parseTarget, textInput, type LoadedInput } from '../inputs.js';
import type { Vocabulary } from '../../io/vocab.js';
import type { ModelAdapter } from '../../models/model.js';
import { imageGeometry, pixelMap, resultFiles, type ImageGeometry } from '../outputs.js';
import type { ModelStore } from './models.js';

/** Where a job's input comes from: a sample beside the model, or an upload (by its id). */
export type InputRef = { readonly sample: string } | { readonly upload: string } | { readonly text: string };

/** Longest text input, in characters (the model reads its own number of tokens of it). */
const MAX_TEXT = 10_000;

/** A job as the app asks for it, checked (`parseJobRequest`). */
export interface JobRequest {
  readonly model: string;
  readonly input: InputRef;
  readonly method: MethodDescriptor;
  readonly inner?: MethodDescriptor;
  readonly layer?: string;
  /** The method's options as flags, checked as the CLI checks them. */
  readonly flags: ReadonlyMap<string, FlagValue>;
  readonly target: string;
  readonly baseline: string;
  /** Deletion and insertion curves beside the result. */
  readonly metrics: boolean;
}

/** What a finished job keeps: the result JSON, the pixel maps of an image attribution, the curves. */
export interface JobOutcome {
  readonly json: Record<string, unknown>;
  /** The CLI's report.html of the result (per row: the input beside the attribution). */
  readonly report: string;
  readonly image?: {
    readonly geometry: ImageGeometry;
    /** Per row: the map, channels summed, unscaled ([H, W]). */
    readonly maps: readonly Float32Array[];
    /** Per row: the map's own display scale (`mapScale`); the app shows several maps on the largest. */
    readonly scales: readonly number[];
    readonly images?: readonly ImageData01[];
  };
  readonly metrics?: { readonly fractions: number[]; readonly deletion: Curves; readonly insertion: Curves };
}

interface Curves {
  readonly auc: number[];
  readonly values: number[][];
}

/** What a job needs from the server: its models, the bytes of its input, limits and the engine flag. */
export interface JobContext {
  readonly store: ModelStore;
  readonly inputBytes: (model: string, ref: InputRef) => Promise<{ bytes: Uint8Array; name: string }>;
  readonly maxPixels: number;
  readonly engine: string;
}

const fail = (message: string, arg: string): never => {
  throw new InvalidArgumentError(message, { arg });
};
const str = (v: unknown, arg: string, max = 512): string => (typeof v === 'string' && v.length <= max ? v : fail(`Field '${arg}' of a job must be a string of at most ${max} characters`, arg));

/**
 * Checks a job request (parsed JSON) before it is queued: the method exists, its options are its
 * own and valid as CLI flags are (ranges, enums, step caps, mask syntax), target and baseline
 * parse (baselines: zeros, a number, blur:σ or noise:σ; never a file).
 *
 * @throws {InvalidArgumentError} `invalid_argument` (or `unknown_method`) naming the field.
 */
export function parseJobRequest(body: unknown): JobRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('A job must be a JSON object {model, input, method, options?, target?, baseline?, metrics?}', 'body');
  const b = body as Record<string, unknown>;
  const model = str(b['model'], 'model');
  const inRaw = b['input'];
  let input: InputRef;
  if (typeof inRaw === 'object' && inRaw !== null && typeof (inRaw as { sample?: unknown }).sample === 'string') input = { sample: str((inRaw as { sample: unknown }).sample, 'input.sample', 256) };
  else if (typeof inRaw === 'object' && inRaw !== null && typeof (inRaw as { upload?: unknown }).upload === 'string') input = { upload: str((inRaw as { upload: unknown }).upload, 'input.upload', 64) };
  else if (typeof inRaw === 'object' && inRaw !== null && typeof (inRaw as { text?: unknown }).text === 'string') input = { text: str((inRaw as { text: unknown }).text, 'input.text', MAX_TEXT) };
  else return fail("Field 'input' of a job must be {sample: NAME}, {upload: ID} or {text: TEXT}", 'input');
  const method = findMethod(str(b['method'], 'method', 64));
  const optRaw = b['options'] ?? {};
  if (typeof optRaw !== 'object' || optRaw === null || Array.isArray(optRaw)) return fail("Field 'options' of a job must be an object {name: value}", 'options');
  const entries = Object.entries(optRaw as Record<string, unknown>);
  const innerId = entries.find(([k]) => k === 'inner')?.[1];
  const inner = method.options.some((o) => o.type === 'method') ? findMethod(typeof innerId === 'string' ? innerId : String(method.options.find((o) => o.type === 'method')?.default ?? 'saliency')) : undefined;
  const raw = new Map<string, string | true>();
  for (const [k, v] of entries.slice(0, 64)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`Option '${k}' of a job must be a string, number or boolean`, k);
    raw.set(kebab(k), typeof v === 'string' ? v.slice(0, 4096) : String(v));
  }
  const flags = parseFlags(raw, methodFlagSpecs(method, inner), `studio --method ${method.id}`);
  checkSteps(flags as Map<string, FlagValue>, method);
  const mask = flags.get('feature-mask');
  if (typeof mask === 'string') {
    if (!/^(slic|grid)\b|^(words|sentences|paragraphs)$/.test(mask)) fail(`Option 'featureMask' of the studio is a segmentation: grid:B, slic[:N[:c]], words, sentences or paragraphs (mask files are for the CLI)`, 'featureMask');
    checkFeatureMaskSpec(mask);
  }
  const target = b['target'] === undefined ? 'auto' : str(b['target'], 'target', 64);
  const baseline = b['baseline'] === undefined ? 'zeros' : str(b['baseline'], 'baseline', 64);
  // never a file name: parseBaseline reads anything else as a tensor file
  const numeric = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(baseline) && Number.isFinite(Number(baseline));
  if (!(baseline === 'zeros' || numeric || /^(blur|noise):[0-9.eE+-]+$/.test(baseline))) fail(`Field 'baseline' of a job must be zeros, a number, blur:σ or noise:σ, got '${baseline}'`, 'baseline');
  const layer = b['layer'] === undefined || b['layer'] === '' ? undefined : str(b['layer'], 'layer', 256);
  if (layer !== undefined && method.layer === undefined) fail(`Method '${method.id}' takes no layer`, 'layer');
  return { model, input, method, ...(inner ? { inner } : {}), ...(layer ? { layer } : {}), flags, target, baseline, metrics: b['metrics'] === true };
}

/** Runs a checked job; `signal` cancels it (the method rejects with `aborted`). */
export async function runJob(job: JobRequest, ctx: JobContext, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<JobOutcome> {
  const descriptors = [job.method, ...(job.inner ? [job.inner] : [])];
  const model = await ctx.store.acquire(job.model, engineFor(ctx.engine, descriptors).engine);
  let x: tf.Tensor | undefined;
  let baseline: Awaited<ReturnType<typeof parseBaseline>> = undefined;
  try {
    const input = await loadInput(job, model, ctx);
    x = input.x;
    baseline = await parseBaseline(job.baseline);
    // token ids: the reference input is all-PAD, whatever id the vocabulary gives PAD (as in attrib explain)
    if (baseline === undefined && input.vocab && input.vocab.pad !== 0) baseline = input.vocab.pad;
    const opts: Record<string, unknown> = { target: parseTarget(job.target, x.shape[0]!), signal, onProgress, ...(await methodOptions(job.flags, descriptors, input)) };
    if (baseline !== undefined) opts['baselines'] = baseline;
    const method = job.method.create(model, { ...(job.inner ? { inner: job.inner.id as MethodId } : {}), ...(job.layer ? { layer: job.layer } : {}), options: opts });
    const attr = await method.attribute(x, opts as CatalogueOptions);
    try {
      const outputs = attr.diagnostics.targets ? await modelOutputs(model, x, 128) : undefined;
      const rctx = { input: { data: (await x.data()) as Float32Array, shape: x.shape }, ...(input.layout ? { layout: input.layout } : {}), ...(input.preprocessing ? { preprocessing: input.preprocessing } : {}), ...(outputs ? { outputs } : {}) };
      // the CLI's output folder, of which the studio keeps the result JSON and the report
      const tokenIds = input.tokens ? ((await x.array()) as number[][]).map((r) => r.map(Math.round)) : undefined;
      const files = await resultFiles(attr, input.images, input.tokens, { ...rctx, ...(tokenIds ? { tokenIds } : {}) });
      const json = JSON.parse(String(files.get('result.json'))) as Record<string, unknown>;
      const report = String(files.get('report.html'));
      const data = (await attr.values.data()) as Float32Array;
      const g = imageGeometry(attr, attr.values.shape, input);
      const maps = g ? Array.from({ length: g.rows }, (_, i) => pixelMap(data, g, i)) : [];
      const image = g ? { geometry: g, maps, scales: maps.map((m) => mapScale(m)), ...(input.images ? { images: input.images } : {}) } : undefined;
      let metrics: JobOutcome['metrics'];
      if (job.metrics && attr.kind === 'feature' && attr.diagnostics.targets) {
        const common = { target: [...attr.diagnostics.targets], signal, onProgress, ...(baseline !== undefined ? { baselines: baseline } : {}), ...(opts['featureMask'] ? { featureMask: opts['featureMask'] as FeatureMask } : {}) };
        const del = await deletionCurve(model, x, attr.values, common);
        const ins = await insertionCurve(model, x, attr.values, common);
        const curves = (c: typeof del): Curves => ({ auc: Array.from(c.auc), values: c.values.map((r) => Array.from(r)) });
        metrics = { fractions: Array.from(del.fractions), deletion: curves(del), insertion: curves(ins) };
      }
      return { json, report, ...(image ? { image } : {}), ...(metrics ? { metrics } : {}) };
    } finally {
      attr.dispose();
    }
  } finally {
    if (baseline instanceof tf.Tensor) baseline.dispose();
    x?.dispose();
    await ctx.store.release(model);
  }
}

/** The job's input: an image or tensor file (sample or upload) checked as the CLI checks `--input`, or a text tokenized with the model's vocabulary. */
async function loadInput(job: JobRequest, model: ModelAdapter, ctx: JobContext): Promise<LoadedInput & { vocab?: Vocabulary }> {
  if ('text' in job.input) {
    const vocab = await ctx.store.vocabulary(job.model);
    if (!vocab) throw new InvalidArgumentError(`Model '${job.model}' takes no text: it has no vocab.txt or vocab.json beside it`, { arg: 'input', model: job.model });
    return { ...textInput([job.input.text], vocab, model, 'the text'), vocab };
  }
  const { bytes, name } = await ctx.inputBytes(job.model, job.input);
  return inputFromBytes(bytes, name, model, { maxPixels: ctx.maxPixels });
}
