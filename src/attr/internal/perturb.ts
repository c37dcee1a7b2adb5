import * as tf from '@tensorflow/tfjs-core';
import { chunks } from '../../core/batching.js';
import type { Budget } from '../../core/budget.js';
import { objectiveValues, type ResolvedTarget } from '../../core/target.js';
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
  /** Writes job j's element mask into `mask` (length = row size, zeroed): 1 = take the source value. */
  readonly fill: (j: number, mask: Float32Array) => void;
}

/**
 * F_t of every perturbed input, `batchSize` rows per model call: x ⊙ (1 − m) + s ⊙ m (exact for binary
 * masks). The batches are built on the host in one pass and uploaded once per call (gathering rows
 * on the device costs more than the model itself on wasm). Returns one value per job.
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
  const mask = new Float32Array(Math.min(batchSize, jobs.count) * e);
  for (const [s, end] of chunks(jobs.count, batchSize)) {
    const k = end - s;
    await run.checkpoint(k, phase);
    const rows = new Int32Array(k);
    const batch = new Float32Array(k * e);
    mask.fill(0, 0, k * e);
    for (let j = s; j < end; j++) {
      const r = jobs.rowOf(j);
      const src = jobs.sourceRowOf ? jobs.sourceRowOf(j) : r;
      rows[j - s] = r;
      const m = mask.subarray((j - s) * e, (j - s + 1) * e);
      jobs.fill(j, m);
      const xo = r * e;
      const so = src * e;
      const bo = (j - s) * e;
      for (let q = 0; q < e; q++) {
        const w = m[q]!;
        batch[bo + q] = w === 0 ? xd[xo + q]! : w === 1 ? sd[so + q]! : (1 - w) * xd[xo + q]! + w * sd[so + q]!;
      }
    }
    const perturbed = tf.tensor(batch, [k, ...rowShape]);
    let y: tf.Tensor;
    try {
      y = await model.forward(perturbed);
    } finally {
      perturbed.dispose();
    }
    try {
      out.set(await objectiveValues(y, target, rows, fn), s);
    } finally {
      y.dispose();
    }
  }
  return out;
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
 * value; absent features take the baseline. Job j belongs to input row `rowOf(j)`.
 */
export async function evaluateCoalitions(
  model: ModelAdapter,
  x: tf.Tensor,
  base: tf.Tensor,
  members: readonly Int32Array[],
  present: Uint8Array,
  rowOf: (j: number) => number,
  target: ResolvedTarget,
  run: Budget,
  batchSize: number,
  fn: string,
): Promise<Float32Array> {
  const f = members.length;
  return evaluatePerturbations(
    model,
    x,
    base,
    {
      count: present.length / f,
      rowOf,
      fill: (j, m) => {
        for (let g = 0; g < f; g++) if (!present[j * f + g]) for (const el of members[g]!) m[el] = 1;
      },
    },
    target,
    run,
    batchSize,
    fn,
  );
}
