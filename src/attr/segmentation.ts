import { InvalidArgumentError } from '../core/errors.js';
import type { FeatureMask } from './masks.js';

/** An image row as host data: [H, W, C] row-major, values in [0, 1]. */
export interface ImageRow {
  readonly data: ArrayLike<number>;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

export interface SlicOptions {
  /** About how many superpixels to make. Default 100. */
  readonly segments?: number;
  /** Colour vs space trade-off (CIELAB units per grid step): larger = squarer segments. Default 10. */
  readonly compactness?: number;
  /** k-means iterations. Default 10. */
  readonly iterations?: number;
  /** Segments smaller than this fraction of the average size merge into a neighbour. Default 0.25. */
  readonly minSizeFactor?: number;
}

/**
 * SLIC superpixels (Achanta et al. 2012): k-means on (CIELAB colour, position) with a search window
 * of 2S × 2S around each centre, S = √(pixels / segments), centres started on a grid and moved to the
 * lowest colour gradient of their 3 × 3 neighbourhood, then connectivity enforced (stray fragments
 * and segments under `minSizeFactor` × S² join their largest neighbour). RGB images are compared in
 * CIELAB (sRGB, D65); other channel counts in their own units × 100. Returns a feature mask of shape
 * [H, W, C] (all channels of a pixel in one segment) with ids 0..K−1 in raster order of first pixel.
 * @see Achanta et al. (2012), https://doi.org/10.1109/TPAMI.2012.120
 */
export function slic(image: ImageRow, opts: SlicOptions = {}): FeatureMask {
  const { height: h, width: w, channels: c } = image;
  const k = opts.segments ?? 100;
  const m = opts.compactness ?? 10;
  const iterations = opts.iterations ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`Option 'segments' passed to 'slic' must be a positive integer, got ${k}`, { arg: 'segments', value: k });
  if (!(m > 0)) throw new InvalidArgumentError(`Option 'compactness' passed to 'slic' must be positive, got ${m}`, { arg: 'compactness', value: m });
  if (h * w === 0) throw new InvalidArgumentError(`'slic' needs a non-empty image, got ${h}×${w}`, { arg: 'image' });
  const n = h * w;
  const feat = features(image);
  const dim = feat.length / n;
  const s = Math.max(1, Math.sqrt(n / k));
  // centres on a grid, moved to the lowest gradient in 3 × 3
  const centres: number[][] = [];
  for (let y = s / 2; y < h; y += s) {
    for (let x = s / 2; x < w; x += s) {
      let [by, bx] = [Math.min(h - 1, Math.floor(y)), Math.min(w - 1, Math.floor(x))];
      let best = Infinity;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = Math.floor(y) + dy;
          const xx = Math.floor(x) + dx;
          if (yy < 1 || yy >= h - 1 || xx < 1 || xx >= w - 1) continue;
          const g = dist(feat, dim, yy * w + xx + 1, yy * w + xx - 1) + dist(feat, dim, (yy + 1) * w + xx, (yy - 1) * w + xx);
          if (g < best) (best = g), (by = yy), (bx = xx);
        }
      const p = by * w + bx;
      centres.push([...Array.from({ length: dim }, (_, d) => feat[p * dim + d]!), by, bx]);
    }
  }
  const label = new Int32Array(n).fill(-1);
  const best = new Float64Array(n);
  const spatial = (m / s) ** 2;
  for (let it = 0; it < iterations; it++) {
    best.fill(Infinity);
    centres.forEach((cc, ci) => {
      const [cy, cx] = [cc[dim]!, cc[dim + 1]!];
      for (let y = Math.max(0, Math.floor(cy - s)); y < Math.min(h, Math.ceil(cy + s + 1)); y++)
        for (let x = Math.max(0, Math.floor(cx - s)); x < Math.min(w, Math.ceil(cx + s + 1)); x++) {
          const p = y * w + x;
          let dc = 0;
          for (let d = 0; d < dim; d++) dc += (feat[p * dim + d]! - cc[d]!) ** 2;
          const dd = dc + spatial * ((y - cy) ** 2 + (x - cx) ** 2);
          if (dd < best[p]!) (best[p] = dd), (label[p] = ci);
        }
    });
    const sums = centres.map(() => new Float64Array(dim + 3));
    for (let p = 0; p < n; p++) {
      const l = label[p]!;
      if (l < 0) continue;
      const acc = sums[l]!;
      for (let d = 0; d < dim; d++) acc[d]! += feat[p * dim + d]!;
      acc[dim]! += Math.floor(p / w);
      acc[dim + 1]! += p % w;
      acc[dim + 2]! += 1;
    }
    sums.forEach((acc, ci) => {
      const cnt = acc[dim + 2]!;
      if (cnt > 0) centres[ci] = Array.from({ length: dim + 2 }, (_, d) => acc[d]! / cnt);
    });
  }
  const ids = enforceConnectivity(label, h, w, (opts.minSizeFactor ?? 0.25) * s * s);
  const out = new Int32Array(n * c);
  for (let p = 0; p < n; p++) out.fill(ids[p]!, p * c, (p + 1) * c);
  return { ids: out, shape: [h, w, c] };
}

/** Per-pixel features: CIELAB for RGB, else the channels × 100 (the scale of L*). */
function features(image: ImageRow): Float64Array {
  const { data, height: h, width: w, channels: c } = image;
  const n = h * w;
  if (c !== 3) return Float64Array.from({ length: n * c }, (_, i) => 100 * data[i]!);
  const out = new Float64Array(n * 3);
  const lin = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  for (let p = 0; p < n; p++) {
    const [r, g, b] = [lin(data[p * 3]!), lin(data[p * 3 + 1]!), lin(data[p * 3 + 2]!)];
    const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
    const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
    const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
    const [fx, fy, fz] = [f(x), f(y), f(z)];
    out[p * 3] = 116 * fy - 16;
    out[p * 3 + 1] = 500 * (fx - fy);
    out[p * 3 + 2] = 200 * (fy - fz);
  }
  return out;
}

const dist = (feat: Float64Array, dim: number, a: number, b: number): number => {
  let s = 0;
  for (let d = 0; d < dim; d++) s += (feat[a * dim + d]! - feat[b * dim + d]!) ** 2;
  return s;
};

/** Relabels 4-connected components in raster order; components under `minSize` join a neighbouring one. */
function enforceConnectivity(label: Int32Array, h: number, w: number, minSize: number): Int32Array {
  const n = h * w;
  const out = new Int32Array(n).fill(-1);
  const sizes: number[] = [];
  let next = 0;
  const stack: number[] = [];
  for (let start = 0; start < n; start++) {
    if (out[start] !== -1) continue;
    const id = next++;
    let size = 0;
    out[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      size++;
      const [y, x] = [Math.floor(p / w), p % w];
      for (const q of [y > 0 ? p - w : -1, y < h - 1 ? p + w : -1, x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1]) {
        if (q >= 0 && out[q] === -1 && label[q] === label[p]) {
          out[q] = id;
          stack.push(q);
        }
      }
    }
    sizes.push(size);
  }
  // merge small components into their most common 4-neighbour, then renumber 0..K−1 in raster order
  const parent = Array.from({ length: next }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let id = 0; id < next; id++) {
    if (sizes[id]! >= minSize || next === 1) continue;
    const counts = new Map<number, number>();
    for (let p = 0; p < n; p++) {
      if (out[p] !== id) continue;
      const [y, x] = [Math.floor(p / w), p % w];
      for (const q of [y > 0 ? p - w : -1, y < h - 1 ? p + w : -1, x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1]) {
        if (q < 0 || out[q] === id) continue;
        const r = find(out[q]!);
        counts.set(r, (counts.get(r) ?? 0) + 1);
      }
    }
    let target = -1;
    let most = -1;
    for (const [r, cnt] of counts) if (cnt > most && r !== find(id)) (most = cnt), (target = r);
    if (target >= 0) {
      parent[find(id)] = target;
      sizes[target] = sizes[target]! + sizes[id]!;
    }
  }
  const renumber = new Map<number, number>();
  const ids = new Int32Array(n);
  for (let p = 0; p < n; p++) {
    const r = find(out[p]!);
    if (!renumber.has(r)) renumber.set(r, renumber.size);
    ids[p] = renumber.get(r)!;
  }
  return ids;
}

export const TEXT_SPANS = ['word', 'sentence', 'paragraph'] as const;
export type TextSpan = (typeof TEXT_SPANS)[number];

/**
 * Feature mask over a sequence of tokens grouping them into words, sentences or paragraphs, for
 * text models (one id per position; `tokens` are the positions' strings). Word pieces join the word
 * before them: WordPiece continuations (`##ing`), and with SentencePiece/GPT-2 vocabularies tokens that
 * lack the word-start mark (`▁`, `Ġ`). Sentences end after `.`, `!`, `?`; paragraphs at a token that is
 * a blank line or `<p>`. Padding (`pad`, default '·', '<pad>', '[PAD]') is one group of its own.
 */
export function textSpanMask(tokens: readonly string[], level: TextSpan, pad: readonly string[] = ['·', '<pad>', '[PAD]', '<PAD>']): FeatureMask {
  const ids = new Int32Array(tokens.length);
  const marked = tokens.some((t) => t.startsWith('▁') || t.startsWith('Ġ'));
  let id = -1;
  let padId = -1;
  let boundary = true;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (pad.includes(t)) {
      if (padId < 0) padId = ++id;
      ids[i] = padId;
      boundary = true;
      continue;
    }
    const paragraph = /^\s*\n\s*\n?\s*$/.test(t) || t === '<p>' || t === '\n\n';
    const continues = t.startsWith('##') || (marked && !t.startsWith('▁') && !t.startsWith('Ġ') && /^[\p{L}\p{N}]/u.test(t));
    let start: boolean;
    if (level === 'word') start = boundary || !continues;
    else start = boundary;
    if (start) id++;
    ids[i] = id;
    boundary = level === 'word' ? false : level === 'sentence' ? /^[.!?]+$/.test(t.replace(/^[▁Ġ]/, '')) || paragraph : paragraph;
  }
  return { ids, shape: [tokens.length] };
}
