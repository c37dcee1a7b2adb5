import { constants as fsConstants, promises as fs } from 'node:fs';
import { InvalidArgumentError } from '../core/errors.js';
import path from 'node:path';
import type { AttributionLike } from '../core/types.js';
import { encodeNpy } from '../io/npy.js';
import { shortestFloat32 } from '../io/tensor-json.js';
import { encodePng, type ImageData01 } from '../io/image.js';
import type { ClassLabels } from '../io/labels.js';
import { describeNormalization, inferLayout, type ImageLayout, type Preprocessing } from '../io/preprocess.js';
import { heatmapRgba, imageRgba, normalizeMap, overlayRgba, reduceChannels, resizeMapNearest, upscaleRgba } from '../viz/heatmap.js';
import { renderReport, type ReportInput, type ReportMethod, type ReportSection } from '../viz/report.js';
import { tokenHtml } from '../viz/token-spans.js';

/**
 * What the CLI knows about a run beyond the attribution: the input batch, how an image was
 * preprocessed, names of classes and features, the model's outputs, token ids. Every field is optional.
 */
export interface ResultContext {
  /** The input batch as the model took it (tabular bars). */
  readonly input?: { readonly data: Float32Array; readonly shape: readonly number[] };
  /** Where the channel axis of an image input is (the attribution of a feature method has the same layout). */
  readonly layout?: ImageLayout;
  /** Image files: how they were resized and normalised. */
  readonly preprocessing?: Preprocessing;
  /** Tensor inputs shown as images: how their values were mapped to the display range. */
  readonly imageNote?: string;
  /** One name per input feature (tabular inputs). */
  readonly featureNames?: readonly string[];
  /** Class labels by output index. */
  readonly labels?: ClassLabels;
  /** The model's output on the input, flattened per row ([rows, outputsPerRow]). */
  readonly outputs?: { readonly data: Float32Array; readonly perRow: number };
  /** Token ids of a text input, one array per row. */
  readonly tokenIds?: readonly (readonly number[])[];
}

/** The model's output at a row's target: raw value and, for several outputs, its probability. */
export interface TargetScore {
  readonly index: number;
  readonly label?: string;
  readonly score?: number;
  readonly probability?: number;
  /** What `score` is: a probability (the row sums to 1), a logit (softmax gives `probability`), or the only output. */
  readonly kind?: 'probability' | 'logit' | 'output';
}

/** Each row's target with its label and the model's score for it. */
export function targetScores(targets: readonly number[], ctx: ResultContext = {}): TargetScore[] {
  return targets.map((index, row) => {
    const label = ctx.labels?.get(index);
    const base = { index, ...(label === undefined ? {} : { label }) };
    const out = ctx.outputs;
    if (!out || index >= out.perRow || (row + 1) * out.perRow > out.data.length) return base;
    const r = out.data.subarray(row * out.perRow, (row + 1) * out.perRow);
    const score = r[index]!;
    if (out.perRow === 1) return { ...base, score, kind: 'output' as const };
    let sum = 0;
    let isDistribution = true;
    for (const v of r) {
      sum += v;
      if (!(v >= 0 && v <= 1)) isDistribution = false;
    }
    if (isDistribution && Math.abs(sum - 1) < 1e-3) return { ...base, score, probability: score, kind: 'probability' as const };
    let max = -Infinity;
    for (const v of r) max = Math.max(max, v);
    let z = 0;
    for (const v of r) z += Math.exp(v - max);
    return { ...base, score, probability: Math.exp(score - max) / z, kind: 'logit' as const };
  });
}

/** "6 · 'cat' (score 0.93 / logit 4.12)": a target as the report shows it. */
export function describeTarget(t: TargetScore): string {
  const label = t.label === undefined ? '' : ` · '${t.label}'`;
  const num = (v: number) => String(Number(v.toPrecision(3)));
  const score =
    t.score === undefined
      ? ''
      : t.kind === 'logit'
        ? ` (score ${num(t.probability!)} / logit ${num(t.score)})`
        : t.kind === 'probability'
          ? ` (score ${num(t.score)})`
          : ` (output ${num(t.score)})`;
  return `${t.index}${label}${score}`;
}

/** The result JSON of DESIGN.md, with the context the CLI has (labels, scores, tokens, preprocessing). */
export async function resultJson(attr: AttributionLike, ctx: ResultContext = {}, tokens?: readonly (readonly string[])[]): Promise<Record<string, unknown>> {
  const d = attr.diagnostics;
  const data = (await attr.values.data()) as Float32Array;
  const positionScores = attr.kind === 'layer' && attr.values.rank === 3 ? lastAxisSums(data, attr.values.shape) : undefined;
  const scores = d.targets ? targetScores(d.targets, ctx) : undefined;
  const tokenRows = tokens ? tokenScores(tokens, ctx.tokenIds, positionScores ?? (attr.values.rank === 2 ? data : undefined), attr.values.shape) : undefined;
  return {
    method: attr.method,
    ...(attr.layer === undefined ? {} : { layer: attr.layer }),
    target: d.targets ? [...d.targets] : null,
    ...(ctx.labels && scores ? { targetLabels: scores.map((s) => s.label ?? null) } : {}),
    ...(scores && scores.some((s) => s.score !== undefined) ? { scores: scores.map((s) => (s.score === undefined ? null : shortestFloat32(s.score))) } : {}),
    ...(scores && scores.some((s) => s.probability !== undefined) ? { probabilities: scores.map((s) => (s.probability === undefined ? null : shortestFloat32(s.probability))) } : {}),
    shape: attr.values.shape,
    ...(ctx.featureNames ? { featureNames: [...ctx.featureNames] } : {}),
    data: Array.from(data, shortestFloat32),
    diagnostics: {
      evaluations: d.evaluations,
      elapsedMs: Math.round(d.elapsedMs * 1000) / 1000,
      truncated: d.truncated,
      ...(d.engine ? { engine: d.engine } : {}),
      ...(d.compileMs === undefined ? {} : { compileMs: Math.round(d.compileMs * 1000) / 1000 }),
      ...(d.convergenceDelta ? { convergenceDelta: Array.from(d.convergenceDelta, shortestFloat32) } : {}),
    },
    ...(positionScores ? { positionScores: Array.from(positionScores, shortestFloat32) } : {}),
    ...(tokenRows ? { tokens: tokenRows } : {}),
    ...(ctx.preprocessing ? { preprocessing: ctx.preprocessing } : ctx.layout ? { preprocessing: { layout: ctx.layout } } : {}),
  };
}

/** Per row, each position's token, id and score (PAD positions included, shown as '·'). */
function tokenScores(tokens: readonly (readonly string[])[], ids: ResultContext['tokenIds'], scores: ArrayLike<number> | undefined, shape: readonly number[]): { token: string; id: number | null; score: number | null }[][] {
  const per = shape[1] ?? 0;
  return tokens.map((row, i) =>
    row.map((token, k) => {
      const s = scores && k < per ? scores[i * per + k] : undefined;
      return { token, id: ids?.[i]?.[k] ?? null, score: s === undefined ? null : shortestFloat32(s) };
    }),
  );
}

/** Σ over the last axis of a [n, T, d] layer attribution: one score per position (per token, for an embedding layer). */
function lastAxisSums(data: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const d = shape[shape.length - 1]!;
  const out = new Float32Array(data.length / d);
  for (let i = 0; i < out.length; i++) for (let k = 0; k < d; k++) out[i]! += data[i * d + k]!;
  return out;
}

/** The file every output folder attrib writes holds: a folder with it may be replaced by a new run. */
export const OUTPUT_MARKER = '.attrib-output';

/** Where `--out` writes: one file (`.json`), or a folder replaced as a whole. */
export interface OutTarget {
  readonly kind: 'file' | 'dir';
  /** Absolute path. */
  readonly path: string;
}

/**
 * Validates `--out` before any work, so a bad destination is refused in one line and nothing is
 * written. The rules:
 * - `FILE.json` (or any path when `json` is set) names a file: it may exist as a file (it is replaced,
 *   atomically), not as a folder.
 * - Any other path names a folder: it may be missing, empty, or a previous attrib output (it holds
 *   `.attrib-output`), which is then replaced as a whole, so no stale heatmaps remain. An existing
 *   file, or a folder holding files attrib did not write, is refused.
 * - The nearest existing ancestor must be a writable folder.
 *
 * @throws {InvalidArgumentError} `invalid_argument` with `details.arg = 'out'` and `details.reason`.
 */
export async function checkOut(out: string, opts: { readonly json?: boolean } = {}): Promise<OutTarget> {
  const abs = path.resolve(out);
  const kind: OutTarget['kind'] = opts.json || out.toLowerCase().endsWith('.json') ? 'file' : 'dir';
  const refuse = (reason: string, why: string): never => {
    throw new InvalidArgumentError(`Option '--out' ${JSON.stringify(out)} ${why}`, { arg: 'out', value: out, reason });
  };
  const stat = await fs.lstat(abs).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : refuse(e.code ?? 'error', `cannot be inspected (${e.code ?? 'error'})`)));
  if (stat) {
    if (kind === 'file' && !stat.isFile()) refuse('not_a_file', 'exists and is not a file; a .json output names a file');
    if (kind === 'dir') {
      if (!stat.isDirectory()) refuse('not_a_directory', 'exists and is not a folder; give a new folder, or FILE.json for the JSON alone');
      const entries = await fs.readdir(abs).catch((e: NodeJS.ErrnoException) => refuse(e.code ?? 'error', `cannot be read (${e.code ?? 'error'})`));
      if (entries.length > 0 && !entries.includes(OUTPUT_MARKER)) refuse('foreign_directory', 'is a folder holding files attrib did not write; give a new or empty folder');
    }
  }
  // the folder that will receive the new entry: the nearest existing ancestor must be a writable folder
  let dir = path.dirname(abs);
  for (;;) {
    const st = await fs.stat(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : e.code === 'ENOTDIR' ? 'file' : refuse(e.code ?? 'error', `cannot be written (${e.code ?? 'error'} on '${dir}')`)));
    if (st === 'file') {
      dir = path.dirname(dir);
      continue;
    }
    if (st === undefined) {
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
      continue;
    }
    if (!st.isDirectory()) refuse('parent_not_a_directory', `cannot be written: '${dir}' is a file, not a folder`);
    await fs.access(dir, fsConstants.W_OK | fsConstants.X_OK).catch((e: NodeJS.ErrnoException) => refuse('not_writable', `cannot be written: folder '${dir}' is not writable (${e.code ?? 'error'})`));
    break;
  }
  return { kind, path: abs };
}

/** Writes one file atomically: a temporary file beside it, renamed into place. */
export async function writeFileAtomically(file: string, content: Uint8Array | string): Promise<void> {
  const abs = path.resolve(file);
  await fs.mkdir(path.dirname(abs), { recursive: true });
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.attrib-tmp-${process.pid}-${Date.now().toString(36)}`);
  try {
    await fs.writeFile(tmp, content);
    await fs.rename(tmp, abs);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Writes `files` as the folder `destDir`, atomically and as a whole: they go into a temporary folder
 * beside it (with the `.attrib-output` marker), which then replaces `destDir` (a previous output is
 * moved aside and removed), so a failure never leaves half-written or stale files there.
 */
export async function writeAtomically(files: ReadonlyMap<string, Uint8Array | string>, destDir: string): Promise<void> {
  const dest = path.resolve(destDir);
  const parent = path.dirname(dest);
  await fs.mkdir(parent, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(parent, `.${path.basename(dest)}.attrib-tmp-`));
  const old = `${tmp}-old`;
  let moved = false;
  try {
    // mkdtemp makes the folder private (0700); the output gets a folder's usual mode (0777 less the umask)
    await fs.chmod(tmp, 0o777 & ~process.umask());
    for (const [name, content] of files) await fs.writeFile(path.join(tmp, name), content);
    await fs.writeFile(path.join(tmp, OUTPUT_MARKER), `${JSON.stringify({ writtenBy: 'attrib', files: [...files.keys()] })}\n`);
    const existing = await fs.lstat(dest).catch(() => undefined);
    if (existing) {
      if (!existing.isDirectory() || !(await isOurs(dest))) {
        throw new InvalidArgumentError(`Output folder '${destDir}' holds files attrib did not write; give a new or empty folder`, { arg: 'out', value: destDir, reason: 'foreign_directory' });
      }
      await fs.rename(dest, old);
      moved = true;
    }
    await fs.rename(tmp, dest);
    moved = false;
    await fs.rm(old, { recursive: true, force: true });
  } catch (e) {
    if (moved) await fs.rename(old, dest).catch(() => undefined);
    throw e;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** A folder is ours when it is empty or holds the output marker. */
async function isOurs(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir);
  return entries.length === 0 || entries.includes(OUTPUT_MARKER);
}

/**
 * Writes the result: a `.json` path gets the result JSON; any other path is a directory that gets
 * `result.json`, `attribution.npy` and, for images, `heatmap-<row>.png` / `overlay-<row>.png`, plus
 * `report.html`: per row, the input (the image, the highlighted tokens, or the feature values as bars)
 * beside the attribution.
 */
export async function writeResult(out: string, attr: AttributionLike, images?: readonly ImageData01[], tokens?: readonly (readonly string[])[], ctx: ResultContext = {}): Promise<string[]> {
  if (out.toLowerCase().endsWith('.json')) {
    await writeFileAtomically(out, JSON.stringify(await resultJson(attr, ctx, tokens)));
    return [out];
  }
  const files = await resultFiles(attr, images, tokens, ctx);
  await writeAtomically(files, out);
  return [...files.keys()].map((f) => path.join(out, f));
}

/**
 * The files of an output folder, by name: `result.json`, `attribution.npy`, the heatmap and overlay
 * PNGs of image rows, and `report.html` (what `writeResult` writes; the studio serves the report).
 */
export async function resultFiles(attr: AttributionLike, images?: readonly ImageData01[], tokens?: readonly (readonly string[])[], ctx: ResultContext = {}): Promise<Map<string, Uint8Array | string>> {
  const files = new Map<string, Uint8Array | string>();
  files.set('result.json', JSON.stringify(await resultJson(attr, ctx, tokens)));
  const raw = (await attr.values.data()) as Float32Array;
  files.set('attribution.npy', encodeNpy({ shape: attr.values.shape, dtype: 'float32', data: raw }));
  const { sections, pngs } = reportSections(attr, raw, images, tokens, ctx);
  for (const [name, png] of pngs) files.set(name, png);
  const resize = ctx.preprocessing?.resize;
  const intro = resize
    ? `Input resized from ${resize.from.width}×${resize.from.height} to ${resize.to.width}×${resize.to.height} (${resizeWords(resize.policy)}).`
    : undefined;
  files.set('report.html', renderReport({ title: `attrib: ${attr.method}`, ...(intro ? { intro } : {}), sections }));
  return files;
}

/** How a resize policy changed the picture, in words. */
export function resizeWords(policy: string): string {
  return policy === 'stretch'
    ? 'stretched: the aspect ratio is not kept'
    : policy === 'fit'
      ? 'fit: aspect ratio kept, padded with black'
      : policy === 'crop'
        ? 'crop: aspect ratio kept, the centre cut out'
        : policy;
}

/** The most features shown as bars per row; beyond it, the largest attributions. */
const MAX_BARS = 48;

/** The report's sections (one per row) and the PNGs to write beside it. */
function reportSections(
  attr: AttributionLike,
  raw: Float32Array,
  images: readonly ImageData01[] | undefined,
  tokens: readonly (readonly string[])[] | undefined,
  ctx: ResultContext,
): { sections: ReportSection[]; pngs: Map<string, Uint8Array> } {
  const pngs = new Map<string, Uint8Array>();
  const sections: ReportSection[] = [];
  let shape = attr.values.shape;
  let data = raw;
  if (tokens && attr.kind === 'layer' && shape.length === 3) {
    // an embedding-layer attribution: one score per token, summed over the embedding dimension
    data = lastAxisSums(raw, shape);
    shape = shape.slice(0, 2);
  }
  const targets = attr.diagnostics.targets ? targetScores(attr.diagnostics.targets, ctx) : undefined;
  const subtitle = (i: number) => (targets?.[i] ? { subtitle: `target ${describeTarget(targets[i]!)}` } : {});
  const g = imageGeometry(attr, shape, ctx);
  if (g) {
    for (let i = 0; i < g.rows; i++) {
      const map = normalizeMap(pixelMap(data, g, i));
      const heat = heatmapPng(map, g);
      pngs.set(`heatmap-${i}.png`, heat);
      const img = images?.[i];
      const methods: ReportMethod[] = [{ id: attr.method, title: attr.method, png: heat, facts: facts(attr, i, targets) }];
      let input: ReportInput;
      if (img) {
        const [W, H] = [img.width, img.height];
        const f = Math.max(1, Math.floor(256 / Math.max(H, W)));
        const over = overlayPng(map, g, img);
        pngs.set(`overlay-${i}.png`, over);
        methods.push({ id: `${attr.method}-overlay`, title: `${attr.method} over the input`, png: over, facts: {} });
        const png = encodePng(upscaleRgba(imageRgba(img.data, H * W, img.channels), W, H, f), W * f, H * f);
        input = { kind: 'image', png, ...inputCaption(ctx) };
      } else {
        input = { kind: 'html', html: '<p class="sub">The input is not an image; its attribution is on the right.</p>' };
      }
      sections.push({ title: `row ${i}`, ...subtitle(i), input, methods });
    }
  } else if (tokens && shape.length === 2) {
    const n = shape[0]!;
    const per = shape[1]!;
    for (let i = 0; i < Math.min(n, 200); i++) {
      const scores = Array.from(data.subarray(i * per, (i + 1) * per));
      const html = tokenHtml(tokens[i] ?? [], scores);
      sections.push({ title: `row ${i}`, ...subtitle(i), input: { kind: 'html', html: tokenHtml(tokens[i] ?? [], new Array<number>(per).fill(0)) }, methods: [{ id: attr.method, title: attr.method, html, facts: facts(attr, i, targets) }] });
    }
  } else {
    const n = shape[0]!;
    const per = data.length / n;
    const x = ctx.input && ctx.input.data.length === data.length ? ctx.input.data : undefined;
    for (let i = 0; i < Math.min(n, 50); i++) {
      const values = data.subarray(i * per, (i + 1) * per);
      // beyond MAX_BARS features, the largest attributions, in feature order
      let shown = Array.from({ length: per }, (_, k) => k);
      if (per > MAX_BARS) shown = shown.sort((p, q) => Math.abs(values[q]!) - Math.abs(values[p]!)).slice(0, MAX_BARS).sort((p, q) => p - q);
      const names = shown.map((k) => ctx.featureNames?.[k] ?? `x${k}`);
      const note = per > MAX_BARS ? `the ${MAX_BARS} features of ${per} with the largest |attribution|` : undefined;
      const input: ReportInput = x
        ? { kind: 'table', names, values: shown.map((k) => x[i * per + k]!), ...(note ? { caption: note } : {}) }
        : { kind: 'html', html: `<p class="sub">${per} features${note ? `; shown: ${note}` : ''}</p>` };
      sections.push({ title: `row ${i}`, ...subtitle(i), input, methods: [{ id: attr.method, title: attr.method, bars: { names, values: shown.map((k) => values[k]!) }, facts: facts(attr, i, targets) }] });
    }
  }
  return { sections, pngs };
}

/** Where an image attribution's pixels are: rows, height, width, channels and the channel axis. */
export interface ImageGeometry {
  readonly rows: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly layout: ImageLayout;
}

/**
 * The geometry of an attribution shown as an image ([N, H, W, C] or [N, C, H, W] with 1 or 3
 * channels), or undefined for other shapes. Feature attributions keep the input's layout
 * (`ctx.layout`); layer maps say theirs by their shape.
 */
export function imageGeometry(attr: Pick<AttributionLike, 'kind'>, shape: readonly number[], ctx: Pick<ResultContext, 'layout'> = {}): ImageGeometry | undefined {
  const layout = attr.kind === 'feature' && ctx.layout ? ctx.layout : inferLayout(shape);
  const channels = layout === 'nhwc' ? shape[3] : layout === 'nchw' ? shape[1] : undefined;
  if (shape.length !== 4 || !layout || (channels !== 1 && channels !== 3)) return undefined;
  const [n, a, b, d] = shape as [number, number, number, number];
  const [height, width, c] = layout === 'nchw' ? [b, d, a] : [a, b, d];
  return { rows: n, height, width, channels: c, layout };
}

/** Row `row` of an image attribution as one value per pixel ([H, W], channels summed), not yet scaled. */
export function pixelMap(data: Float32Array, g: ImageGeometry, row: number): Float32Array {
  const per = g.height * g.width * g.channels;
  return reduceChannels(data.subarray(row * per, (row + 1) * per), g.height, g.width, g.channels, 'sum', g.layout);
}

/** The heatmap PNG of a normalised pixel map, enlarged to about 256 px (as the report shows it). */
export function heatmapPng(norm: Float32Array, g: Pick<ImageGeometry, 'height' | 'width'>): Uint8Array {
  const factor = Math.max(1, Math.floor(256 / Math.max(g.height, g.width)));
  return encodePng(upscaleRgba(heatmapRgba(norm, 'diverging'), g.width, g.height, factor), g.width * factor, g.height * factor);
}

/**
 * The normalised map over its input image, enlarged to about 256 px; a layer map (e.g. GradCAM at
 * 16×16) is resized to the image first.
 */
export function overlayPng(norm: Float32Array, g: Pick<ImageGeometry, 'height' | 'width'>, img: ImageData01): Uint8Array {
  const [W, H, h, w] = [img.width, img.height, g.height, g.width];
  const f = Math.max(1, Math.floor(256 / Math.max(H, W)));
  return encodePng(upscaleRgba(overlayRgba(img.data, img.channels, W === w && H === h ? norm : resizeMapNearest(norm, h, w, H, W), 'diverging'), W, H, f), W * f, H * f);
}

/** The caption under an input image: how it was resized, normalised or mapped for display. */
function inputCaption(ctx: ResultContext): { caption?: string } {
  const parts: string[] = [];
  const p = ctx.preprocessing;
  if (p?.resize) parts.push(`resized ${p.resize.from.width}×${p.resize.from.height} → ${p.resize.to.width}×${p.resize.to.height} (${resizeWords(p.resize.policy)})`);
  if (p && p.normalize !== '[0,1]') parts.push(`normalised ${describeNormalization(p.normalize)}, shown undone`);
  if (ctx.imageNote) parts.push(ctx.imageNote);
  return parts.length > 0 ? { caption: parts.join('; ') } : {};
}

function facts(attr: AttributionLike, row: number, targets?: readonly TargetScore[]): Record<string, string> {
  const d = attr.diagnostics;
  const f: Record<string, string> = { evaluations: String(d.evaluations), 'time (ms)': d.elapsedMs.toFixed(1) };
  if (d.engine) f['engine'] = d.engine;
  if (d.compileMs) f['compile (ms)'] = d.compileMs.toFixed(1);
  if (d.targets) f['target'] = targets?.[row] ? describeTarget(targets[row]!) : String(d.targets[row]);
  if (d.convergenceDelta) f['completeness gap'] = d.convergenceDelta[row]!.toExponential(2);
  return f;
}
