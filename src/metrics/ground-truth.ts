import type * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '../core/errors.js';

/** Scores of an attribution against known relevant elements (1 = relevant), per row. */
export interface GroundTruthScores {
  /** Share of the k highest-|attribution| elements that are relevant (k = number of relevant elements unless given). */
  readonly precisionAtK: Float64Array;
  /** Share of relevant elements among the k highest. */
  readonly recallAtK: Float64Array;
  /** Area under the ROC curve of |attribution| as a detector of relevant elements (0.5 = chance). */
  readonly auroc: Float64Array;
  /** Share of Σ|attribution| on the relevant elements. */
  readonly mass: Float64Array;
}

/**
 * Ground-truth scores (ChaosMining, DiFull-style benchmarks): how well |attribution| singles out
 * the elements known to matter.
 */
export async function groundTruthScores(attribution: tf.Tensor, relevant: ArrayLike<number>, k?: number): Promise<GroundTruthScores> {
  const a = await attribution.data();
  if (relevant.length !== a.length) {
    throw new ShapeMismatchError(`Argument 'relevant' passed to 'groundTruthScores' must have one flag per attribution element (${a.length}), got ${relevant.length}`, {
      arg: 'relevant',
      expected: a.length,
      actual: relevant.length,
    });
  }
  const n = attribution.shape[0]!;
  const e = a.length / n;
  const out = { precisionAtK: new Float64Array(n), recallAtK: new Float64Array(n), auroc: new Float64Array(n), mass: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const idx = Array.from({ length: e }, (_, q) => i * e + q).sort((p, q) => Math.abs(a[q]!) - Math.abs(a[p]!));
    const pos = idx.filter((q) => relevant[q]! > 0).length;
    const kk = k ?? pos;
    const hits = idx.slice(0, kk).filter((q) => relevant[q]! > 0).length;
    out.precisionAtK[i] = kk > 0 ? hits / kk : 0;
    out.recallAtK[i] = pos > 0 ? hits / pos : 0;
    // AUROC by ranks (Mann–Whitney U), ties counted half
    const sorted = idx.slice().reverse(); // ascending |a|
    let rankSum = 0;
    for (let r = 0; r < sorted.length; ) {
      let t = r;
      while (t + 1 < sorted.length && Math.abs(a[sorted[t + 1]!]!) === Math.abs(a[sorted[r]!]!)) t++;
      const avg = (r + t) / 2 + 1;
      for (let q = r; q <= t; q++) if (relevant[sorted[q]!]! > 0) rankSum += avg;
      r = t + 1;
    }
    const neg = e - pos;
    out.auroc[i] = pos > 0 && neg > 0 ? (rankSum - (pos * (pos + 1)) / 2) / (pos * neg) : 0.5;
    let on = 0;
    let all = 0;
    for (let q = i * e; q < (i + 1) * e; q++) (all += Math.abs(a[q]!)), (on += relevant[q]! > 0 ? Math.abs(a[q]!) : 0);
    out.mass[i] = all > 0 ? on / all : 0;
  }
  return out;
}
