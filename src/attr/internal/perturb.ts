import * as tf from '@tensorflow/tfjs-core';
import { chunks } from '../../core/batching.js';
import type { Budget } from '../../core/budget.js';
import { objectiveValues, pickTargets, type ResolvedTarget } from '../../core/target.js';
import type { ModelAdapter } from '../../models/model.js';

/**
 * A list of perturbed inputs, described without materialising them: job j perturbs input row
 * `rowOf(j)` by replacing the elements its mask marks with the same elements of `source` row
 * `sourceRowOf(j)` (the baseline row by default).
 */
export interface PerturbationJobs {
  readonly count: number;
  readonly rowOf: (j: number) => number;
  readonly sourceRowOf?: (j: number) => number;
  /** Calls `copy(start, length)` for every contiguous run of job j's row that takes the source values. */
  readonly replaced: (j: number, copy: (start: number, length: number) => void) => void;
}

/**
 * F_t of every perturbed input, `batchSize` rows per model call: each row is a copy of its input row
 * with the replaced elements taken from the source row. Batches are built on the host (a copy plus
 * work proportional to the replaced elements) and uploaded once per call: gathering rows on the
 * device costs more than the model itself on wasm. Returns one value per job.
 */
export async function evaluatePerturbations(
  model: ModelAdapter,
  x: tf.Tensor,
  source: tf.Tensor,
  jobs: PerturbationJobs,
  target: ResolvedTarget,
  run: Budget,
  batchSize: number,
  fn: string,
  phase?: string,
): Promise<Float32Array> {
  const rowShape = x.shape.slice(1);
  const e = rowShape.reduce((a, b) => a * b, 1);
  const xd = (await x.data()) as Float32Array;
  const sd = source === x ? xd : ((await source.data()) as Float32Array);
  const out = new Float32Array(jobs.count);
  let buffer = new Float32Array(0);
  let bo = 0;
  let so = 0;
  const take = (start: number, length: number): void => {
    if (length === 1) buffer[bo + start] = sd[so + start]!;
    else buffer.set(sd.subarray(so + start, so + start + length), bo + start);
  };
  for (const [s, end] of chunks(jobs.count, batchSize, run)) {
    const k = end - s;
    await run.checkpoint(k, phase);
    const rows = new Int32Array(k);
    // a fresh buffer per call: some backends keep a reference to the array a tensor was made from
    buffer = new Float32Array(k * e);
    for (let j = s; j < end; j++) {
      const r = jobs.rowOf(j);
      rows[j - s] = r;
      bo = (j - s) * e;
      so = (jobs.sourceRowOf ? jobs.sourceRowOf(j) : r) * e;
      buffer.set(xd.subarray(r * e, (r + 1) * e), bo);
      jobs.replaced(j, take);
    }
    out.set(await scoreBatch(model, buffer, [k, ...rowShape], rows, target, fn), s);
  }
  return out;
}

/**
 * F_t of a batch built on the host (`rows[i]` = the input row of batch row i): engines outside TF.js
 * take the array as is (`forwardHost`), others get one tensor upload.
 */
export async function scoreBatch(model: ModelAdapter, batch: Float32Array, shape: readonly number[], rows: Int32Array, target: ResolvedTarget, fn: string): Promise<Float32Array> {
  if (model.forwardHost && target.kind === 'index') return pickTargets(await model.forwardHost(batch, shape, { rows }), target.indices, rows, fn);
  const input = tf.tensor(batch, [...shape]);
  let y: tf.Tensor;
  try {
    y = await model.forward(input, { rows });
  } finally {
    input.dispose();
  }
  try {
    return await objectiveValues(y, target, rows, fn);
  } finally {
    y.dispose();
  }
}

/** Spreads per-feature values [n, F] onto elements: value of element e of row i = values[i][featureOf[e]]. */
export function spreadToElements(values: Float64Array | Float32Array, n: number, features: number, featureOf: Int32Array, rowShape: readonly number[]): tf.Tensor {
  const e = featureOf.length;
  const out = new Float32Array(n * e);
  for (let i = 0; i < n; i++) for (let k = 0; k < e; k++) out[i * e + k] = values[i * features + featureOf[k]!]!;
  return tf.tensor(out, [n, ...rowShape]);
}

/**
 * F_t for coalitions of features: `present[j·F + g] = 1` when feature g of job j keeps its input
 * value; absent features take the baseline. Job j belongs to input row `rowOf(j)`. `runs` are the
 * features' elements as contiguous runs (`FeatureGroups.runs`).
 */
export async function evaluateCoalitions(
  model: ModelAdapter,
  x: tf.Tensor,
  base: tf.Tensor,
  runs: readonly Int32Array[],
  present: Uint8Array,
  rowOf: (j: number) => number,
  target: ResolvedTarget,
  run: Budget,
  batchSize: number,
  fn: string,
): Promise<Float32Array> {
  const f = runs.length;
  return evaluatePerturbations(
    model,
    x,
    base,
    {
      count: present.length / f,
      rowOf,
      replaced: (j, copy) => {
        for (let g = 0; g < f; g++) if (!present[j * f + g]) copyRuns(runs[g]!, copy);
      },
    },
    target,
    run,
    batchSize,
    fn,
  );
}

/** Hands each [start, length] pair of flattened `runs` to `copy`. */
export function copyRuns(runs: Int32Array, copy: (start: number, length: number) => void): void {
  for (let k = 0; k < runs.length; k += 2) copy(runs[k]!, runs[k + 1]!);
}
