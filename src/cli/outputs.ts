import { constants as fsConstants, promises as fs } from 'node:fs';
import { InvalidArgumentError } from '../core/errors.js';
import path from 'node:path';
import type { AttributionLike } from '../core/types.js';
import { encodeNpy } from '../io/npy.js';
import { shortestFloat32 } from '../io/tensor-json.js';
import { encodePng, type ImageData01 } from '../io/image.js';
import { heatmapRgba, imageRgba, normalizeMap, overlayRgba, reduceChannels, resizeMapNearest, upscaleRgba } from '../viz/heatmap.js';
import { renderReport, type ReportMethod, type ReportSection } from '../viz/report.js';
import { tokenHtml } from '../viz/token-spans.js';

/** The result JSON of DESIGN.md. */
export async function resultJson(attr: AttributionLike): Promise<Record<string, unknown>> {
  const d = attr.diagnostics;
  return {
    method: attr.method,
    ...(attr.layer === undefined ? {} : { layer: attr.layer }),
    target: d.targets ? [...d.targets] : null,
    shape: attr.values.shape,
    data: Array.from(await attr.values.data(), shortestFloat32),
    diagnostics: {
      evaluations: d.evaluations,
      elapsedMs: Math.round(d.elapsedMs * 1000) / 1000,
      truncated: d.truncated,
      ...(d.convergenceDelta ? { convergenceDelta: Array.from(d.convergenceDelta, shortestFloat32) } : {}),
    },
    ...(attr.kind === 'layer' && attr.values.rank === 3 ? { positionScores: Array.from(lastAxisSums(await attr.values.data(), attr.values.shape), shortestFloat32) } : {}),
  };
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
 * `report.html` (token highlighting when `tokens` are given, bars otherwise).
 */
export async function writeResult(out: string, attr: AttributionLike, images?: readonly ImageData01[], tokens?: readonly (readonly string[])[]): Promise<string[]> {
  const json = JSON.stringify(await resultJson(attr));
  if (out.toLowerCase().endsWith('.json')) {
    await writeFileAtomically(out, json);
    return [out];
  }
  const files = new Map<string, Uint8Array | string>();
  files.set('result.json', json);
  const raw = (await attr.values.data()) as Float32Array;
  files.set('attribution.npy', encodeNpy({ shape: attr.values.shape, dtype: 'float32', data: raw }));
  let shape = attr.values.shape;
  const sections: ReportSection[] = [];
  let data = raw;
  if (tokens && attr.kind === 'layer' && shape.length === 3) {
    // an embedding-layer attribution: one score per token, summed over the embedding dimension
    data = lastAxisSums(raw, shape);
    shape = shape.slice(0, 2);
  }
  if (shape.length === 4 && (shape[3] === 1 || shape[3] === 3)) {
    const [n, h, w, c] = shape as [number, number, number, number];
    const factor = Math.max(1, Math.floor(256 / Math.max(h, w)));
    for (let i = 0; i < n; i++) {
      const map = normalizeMap(reduceChannels(data.subarray(i * h * w * c, (i + 1) * h * w * c), h, w, c, 'sum'));
      const heat = encodePng(upscaleRgba(heatmapRgba(map, 'diverging'), w, h, factor), w * factor, h * factor);
      files.set(`heatmap-${i}.png`, heat);
      const img = images?.[i];
      const methods: ReportMethod[] = [{ id: attr.method, title: attr.method, png: heat, facts: facts(attr, i) }];
      if (img) {
        // a layer map (e.g. GradCAM at 16×16) is shown over its image at the image's size
        const [W, H] = [img.width, img.height];
        const f = Math.max(1, Math.floor(256 / Math.max(H, W)));
        const over = encodePng(upscaleRgba(overlayRgba(img.data, img.channels, W === w && H === h ? map : resizeMapNearest(map, h, w, H, W), 'diverging'), W, H, f), W * f, H * f);
        files.set(`overlay-${i}.png`, over);
        methods.push({ id: `${attr.method}-overlay`, title: `${attr.method} over the input`, png: over, facts: {} });
      }
      const fi = img ? Math.max(1, Math.floor(256 / Math.max(img.height, img.width))) : 1;
      const input = img ? encodePng(upscaleRgba(imageRgba(img.data, img.height * img.width, img.channels), img.width, img.height, fi), img.width * fi, img.height * fi) : heat;
      sections.push({ title: `row ${i}`, input: { kind: 'image', png: input }, methods });
    }
  } else if (tokens && shape.length === 2) {
    const n = shape[0]!;
    const per = shape[1]!;
    for (let i = 0; i < Math.min(n, 200); i++) {
      const scores = Array.from(data.subarray(i * per, (i + 1) * per));
      const html = tokenHtml(tokens[i] ?? [], scores);
      sections.push({ title: `row ${i}`, input: { kind: 'html', html: tokenHtml(tokens[i] ?? [], new Array<number>(per).fill(0)) }, methods: [{ id: attr.method, title: attr.method, html, facts: facts(attr, i) }] });
    }
  } else {
    const n = shape[0]!;
    const per = data.length / n;
    for (let i = 0; i < Math.min(n, 50); i++) {
      const values = Array.from(data.subarray(i * per, (i + 1) * per));
      const names = values.map((_, k) => `x${k}`);
      sections.push({ title: `row ${i}`, input: { kind: 'html', html: '' }, methods: [{ id: attr.method, title: attr.method, bars: { names, values }, facts: facts(attr, i) }] });
    }
  }
  files.set('report.html', renderReport({ title: `attrib: ${attr.method}`, sections }));
  await writeAtomically(files, out);
  return [...files.keys()].map((f) => path.join(out, f));
}

function facts(attr: AttributionLike, row: number): Record<string, string> {
  const d = attr.diagnostics;
  const f: Record<string, string> = { evaluations: String(d.evaluations), 'time (ms)': d.elapsedMs.toFixed(1) };
  if (d.targets) f['target'] = String(d.targets[row]);
  if (d.convergenceDelta) f['completeness gap'] = d.convergenceDelta[row]!.toExponential(2);
  return f;
}
