import * as tf from '@tensorflow/tfjs-core';
import type { Budget } from '../../core/budget.js';
import { chunks } from '../../core/batching.js';
import { objectiveFor, objectiveValues, rangeIds, type ResolvedTarget } from '../../core/target.js';
import type { DifferentiableModel, ModelAdapter } from '../../models/model.js';

/** F_t of every row of `x` (forward passes in chunks of `batchSize`), as float32 per row. */
export async function evaluateObjective(
  model: ModelAdapter,
  x: tf.Tensor,
  target: ResolvedTarget,
  run: Budget,
  batchSize: number,
  fn: string,
  rowIds?: ArrayLike<number>,
): Promise<Float32Array> {
  const n = x.shape[0]!;
  const out = new Float32Array(n);
  for (const [s, e] of chunks(n, batchSize, run)) {
    await run.checkpoint(e - s);
    const xs = s === 0 && e === n ? x : tf.slice(x, s, e - s);
    const ids = rowIds ? Array.from({ length: e - s }, (_, i) => rowIds[s + i]!) : rangeIds(s, e);
    const y = await model.forward(xs, { rows: ids });
    if (xs !== x) xs.dispose();
    try {
      out.set(await objectiveValues(y, target, ids, fn), s);
    } finally {
      y.dispose();
    }
  }
  return out;
}

export interface WeightedGradientJobs {
  /** Number of gradient evaluations (points). */
  readonly count: number;
  /** Input row of each point. */
  readonly rowOf: Int32Array;
  /** Weight of each point's gradient in its row's sum. */
  readonly weight: Float32Array;
  /**
   * Builds the points [start, end) on the host, row-major [end − start, ...features], and optionally
   * a per-point factor (same layout) applied elementwise to each gradient before weighting.
   */
  readonly build: (start: number, end: number) => { readonly points: Float32Array; readonly factor?: Float32Array };
}

/** `weightedGradientSum`'s arguments after the model: the row shape, the rows, the jobs, the target, the budget, the batch size and the caller's name. */
type GradientSumArgs = [rowShape: readonly number[], rows: number, jobs: WeightedGradientJobs, target: ResolvedTarget, run: Budget, batchSize: number, fn: string];

/**
 * acc[row] = Σ_{points j of row} weight_j · factor_j ⊙ ∇F_t(point_j), in chunks of `batchSize` points:
 * the gradient kernel of Saliency, IG, GradientSHAP and Expected Gradients. Returns [rows, ...features];
 * the caller owns it. Models with host gradients (ONNX Runtime) take the points as they are built and
 * the sum runs on the host, each gradient added to its own row only (float64 accumulators); on TF.js
 * the per-row reduction is a matrix product (weights [rows, chunk] × grads [chunk, E]) on the device.
 */
export async function weightedGradientSum(model: DifferentiableModel, ...args: GradientSumArgs): Promise<tf.Tensor> {
  if (model.gradientsHost) return hostWeightedGradientSum(model.gradientsHost.bind(model), ...args);
  const [rowShape, rows, jobs, target, run, batchSize, fn] = args;
  const e = rowShape.reduce((a, b) => a * b, 1);
  let acc = tf.zeros([rows, e]);
  try {
    for (const [s, end] of chunks(jobs.count, batchSize, run)) {
      await run.checkpoint(end - s);
      const built = jobs.build(s, end);
      const ids = jobs.rowOf.subarray(s, end);
      const points = tf.tensor(built.points, [end - s, ...rowShape]);
      let g: tf.Tensor;
      try {
        g = await model.gradients(points, objectiveFor(target, ids, fn), { rows: ids });
      } finally {
        points.dispose();
      }
      const w = new Float32Array(rows * (end - s));
      for (let j = s; j < end; j++) w[jobs.rowOf[j]! * (end - s) + (j - s)] = jobs.weight[j]!;
      const next = tf.tidy(() => {
        const gf = built.factor ? tf.mul(g, tf.tensor(built.factor, g.shape)) : g;
        return tf.add(acc, tf.matMul(tf.tensor2d(w, [rows, end - s]), tf.reshape(gf, [end - s, e])));
      });
      g.dispose();
      acc.dispose();
      acc = next;
    }
    const result = tf.reshape(acc, [rows, ...rowShape]);
    acc.dispose();
    return result;
  } catch (err) {
    acc.dispose();
    throw err;
  }
}

/** `weightedGradientSum` on host gradients: no tensor is made until the result. */
async function hostWeightedGradientSum(gradientsHost: NonNullable<DifferentiableModel['gradientsHost']>, ...args: GradientSumArgs): Promise<tf.Tensor> {
  const [rowShape, rows, jobs, target, run, batchSize, fn] = args;
  const e = rowShape.reduce((a, b) => a * b, 1);
  const acc = new Float64Array(rows * e);
  for (const [s, end] of chunks(jobs.count, batchSize, run)) {
    await run.checkpoint(end - s);
    const { points, factor } = jobs.build(s, end);
    const ids = jobs.rowOf.subarray(s, end);
    const g = (await gradientsHost(points, [end - s, ...rowShape], objectiveFor(target, ids, fn), { rows: ids })).data;
    for (let j = s; j < end; j++) {
      const w = jobs.weight[j]!;
      if (w === 0) continue;
      const o = jobs.rowOf[j]! * e;
      const p = (j - s) * e;
      if (factor) for (let q = 0; q < e; q++) acc[o + q]! += w * factor[p + q]! * g[p + q]!;
      else for (let q = 0; q < e; q++) acc[o + q]! += w * g[p + q]!;
    }
  }
  return tf.tensor(Float32Array.from(acc), [rows, ...rowShape]);
}

/** Per-row sums of a [rows, ...] tensor, downloaded. */
export async function rowSums(t: tf.Tensor): Promise<Float32Array> {
  const s = tf.tidy(() => tf.sum(tf.reshape(t, [t.shape[0]!, -1]), 1));
  const d = (await s.data()) as Float32Array;
  s.dispose();
  return d;
}

/** Σ attribution − (F(x) − F(b)) per row. */
export function completenessGap(sums: Float32Array, fx: Float32Array, fb: Float32Array): Float32Array {
  const d = new Float32Array(sums.length);
  for (let i = 0; i < d.length; i++) d[i] = sums[i]! - (fx[i]! - fb[i]!);
  return d;
}

/**
 * ∇F_t for every row of `x` in chunks of `batchSize` (one gradient row per input row), as one tensor
 * with `x`'s shape. The caller owns it.
 */
export function gradientsInBatches(model: DifferentiableModel, x: tf.Tensor, target: ResolvedTarget, run: Budget, batchSize: number, fn: string): Promise<tf.Tensor> {
  return mapRows(x, run, batchSize, (xs, ids) => model.gradients(xs, objectiveFor(target, ids, fn), { rows: ids }));
}

/** The model's outputs for every row of `x`, forward passes in chunks. The caller owns the result. */
export function forwardAll(model: ModelAdapter, x: tf.Tensor, run: Budget, batchSize: number): Promise<tf.Tensor> {
  return mapRows(x, run, batchSize, (xs, ids) => model.forward(xs, { rows: ids }));
}

/** `call` on consecutive chunks of rows of `x`, results concatenated along the batch. */
async function mapRows(x: tf.Tensor, run: Budget, batchSize: number, call: (xs: tf.Tensor, ids: Int32Array) => Promise<tf.Tensor>): Promise<tf.Tensor> {
  const n = x.shape[0]!;
  const parts: tf.Tensor[] = [];
  try {
    for (const [s, e] of chunks(n, batchSize, run)) {
      await run.checkpoint(e - s);
      const xs = s === 0 && e === n ? x : tf.slice(x, s, e - s);
      try {
        parts.push(await call(xs, rangeIds(s, e)));
      } finally {
        if (xs !== x) xs.dispose();
      }
    }
    const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    if (parts.length === 1) parts.length = 0; // the single part is the result
    return out;
  } finally {
    // the parts of a concatenated result, or everything gathered before a failure
    for (const p of parts) p.dispose();
  }
}
