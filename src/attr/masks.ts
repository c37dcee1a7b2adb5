import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';

/**
 * A feature mask: an integer group id per element of one input row. Elements with the same id form
 * one feature; every element of a group gets the group's attribution. Ids need not be contiguous.
 */
export interface FeatureMask {
  /** Group id per element of one row, row-major, length = product of the row shape. */
  readonly ids: Int32Array;
  /** Shape of one row. */
  readonly shape: readonly number[];
}

/** A mask given as a tensor, nested arrays or flat ids: shapes equal to one row, or broadcastable to it. */
export type FeatureMaskInput = FeatureMask | tf.Tensor | Int32Array | readonly number[];

/** Group structure after normalisation: features 0..count−1 and the elements of each. */
export interface FeatureGroups {
  readonly count: number;
  /** Feature index (0..count−1) of each element. */
  readonly featureOf: Int32Array;
  /** Elements of each feature. */
  readonly members: readonly Int32Array[];
  /** The original group ids, in feature order (ascending). */
  readonly ids: readonly number[];
  /** Each feature's elements as contiguous runs, flattened [start₀, length₀, start₁, length₁, …]. */
  readonly runs: readonly Int32Array[];
}

/** Sorted element indices → flattened [start, length] pairs of contiguous runs. */
export function toRuns(sorted: Int32Array): Int32Array {
  const out: number[] = [];
  for (let k = 0; k < sorted.length; ) {
    const start = sorted[k]!;
    let len = 1;
    while (k + len < sorted.length && sorted[k + len] === start + len) len++;
    out.push(start, len);
    k += len;
  }
  return Int32Array.from(out);
}

/**
 * Normalises a mask for rows of shape `rowShape`: broadcasts it (dims of 1, or a leading batch dim of
 * 1), maps ids to 0..F−1 in ascending id order. Without a mask, every element is its own feature.
 */
export function resolveFeatureMask(mask: FeatureMaskInput | undefined, rowShape: readonly number[], fn: string): FeatureGroups {
  const size = rowShape.reduce((a, b) => a * b, 1);
  let ids: Int32Array;
  if (mask === undefined) {
    ids = new Int32Array(size);
    for (let i = 0; i < size; i++) ids[i] = i;
  } else {
    const { data, shape } = maskData(mask, rowShape);
    ids = broadcastIds(data, shape, rowShape, fn);
  }
  const unique = [...new Set(ids)].sort((a, b) => a - b);
  if (unique.length === 0) {
    throw new InvalidArgumentError(`Argument 'featureMask' passed to '${fn}' defines no features`, { arg: 'featureMask', fn });
  }
  const index = new Map<number, number>(unique.map((id, i) => [id, i]));
  const featureOf = new Int32Array(size);
  const counts = new Int32Array(unique.length);
  for (let i = 0; i < size; i++) {
    const f = index.get(ids[i]!)!;
    featureOf[i] = f;
    counts[f]!++;
  }
  const members = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(unique.length);
  for (let i = 0; i < size; i++) {
    const f = featureOf[i]!;
    members[f]![fill[f]!++] = i;
  }
  return { count: unique.length, featureOf, members, ids: unique, runs: members.map(toRuns) };
}

function maskData(mask: FeatureMaskInput, rowShape: readonly number[]): { data: Int32Array; shape: readonly number[] } {
  if (mask instanceof tf.Tensor) return { data: Int32Array.from(mask.dataSync(), (v) => Math.round(v)), shape: mask.shape };
  if (mask instanceof Int32Array) return { data: mask, shape: [mask.length] };
  if (Array.isArray(mask)) {
    const flat = (mask as readonly unknown[]).flat(Infinity as 1) as number[];
    return { data: Int32Array.from(flat), shape: flat.length === rowShape.reduce((a, b) => a * b, 1) ? rowShape : [flat.length] };
  }
  const m = mask as FeatureMask;
  return { data: m.ids, shape: m.shape };
}

function broadcastIds(data: Int32Array, shape: readonly number[], rowShape: readonly number[], fn: string): Int32Array {
  let s = [...shape];
  if (s.length === rowShape.length + 1 && s[0] === 1) s = s.slice(1);
  const size = rowShape.reduce((a, b) => a * b, 1);
  if (data.length === size && (s.length !== rowShape.length || s.every((d, i) => d === rowShape[i]))) return Int32Array.from(data);
  const ok = s.length === rowShape.length && s.every((d, i) => d === rowShape[i] || d === 1);
  if (!ok) {
    throw new ShapeMismatchError(
      `Argument 'featureMask' passed to '${fn}' must have one row's shape [${rowShape.join(', ')}] or broadcast to it (dims of 1), got [${shape.join(', ')}]`,
      { arg: 'featureMask', fn, expected: rowShape, actual: shape },
    );
  }
  for (const v of data) {
    if (!Number.isInteger(v)) throw new InvalidArgumentError(`Argument 'featureMask' passed to '${fn}' must hold integer ids`, { arg: 'featureMask', fn });
  }
  const out = new Int32Array(size);
  const strides = stridesOf(s);
  const rowStrides = stridesOf(rowShape);
  for (let i = 0; i < size; i++) {
    let src = 0;
    for (let d = 0; d < rowShape.length; d++) {
      const coord = Math.floor(i / rowStrides[d]!) % rowShape[d]!;
      src += (s[d] === 1 ? 0 : coord) * strides[d]!;
    }
    out[i] = data[src]!;
  }
  return out;
}

export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) st[d] = st[d + 1]! * shape[d + 1]!;
  return st;
}

/**
 * Image helper: square blocks of `block × block` pixels over all channels of an [H, W, C] row, ids
 * row-major over the block grid: id = (row ÷ block) × ⌈W ÷ block⌉ + col ÷ block.
 */
export function gridMask(rowShape: readonly [number, number, number], block: number | readonly [number, number]): FeatureMask {
  const [h, w, c] = rowShape;
  const [bh, bw] = typeof block === 'number' ? [block, block] : block;
  const cols = Math.ceil(w / bw);
  const ids = new Int32Array(h * w * c);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) ids[(i * w + j) * c + k] = Math.floor(i / bh) * cols + Math.floor(j / bw);
  return { ids, shape: [h, w, c] };
}

/** Text helper: one feature per token of a [seqLen] or [seqLen, dim] row. */
export function tokenMask(rowShape: readonly number[]): FeatureMask {
  const len = rowShape[0]!;
  const per = rowShape.slice(1).reduce((a, b) => a * b, 1);
  const ids = new Int32Array(len * per);
  for (let t = 0; t < len; t++) ids.fill(t, t * per, (t + 1) * per);
  return { ids, shape: rowShape };
}

/** Table helper: columns grouped by the given lists of column indices; ungrouped columns stay alone. */
export function columnGroupMask(columns: number, groups: readonly (readonly number[])[]): FeatureMask {
  const ids = new Int32Array(columns).fill(-1);
  groups.forEach((g, gi) => {
    for (const c of g) {
      if (!Number.isInteger(c) || c < 0 || c >= columns) {
        throw new InvalidArgumentError(`Column ${c} in group ${gi} of 'columnGroupMask' is outside 0..${columns - 1}`, { column: c, group: gi });
      }
      ids[c] = gi;
    }
  });
  let next = groups.length;
  for (let c = 0; c < columns; c++) if (ids[c] === -1) ids[c] = next++;
  return { ids, shape: [columns] };
}
