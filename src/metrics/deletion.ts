import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt, assertSameShape } from '../core/assert.js';
import { resolveBaseline } from '../core/baseline.js';
import type { Baseline, RunControl, Target } from '../core/types.js';
import type { ModelAdapter } from '../models/model.js';
import { prepare } from '../attr/internal/prepare.js';
import { evaluatePerturbations } from '../attr/internal/perturb.js';
import { resolveFeatureMask, type FeatureMaskInput } from '../attr/masks.js';
import { withScope } from '../core/scope.js';

export interface CurveOptions extends RunControl {
  readonly target: Target;
  /** What removed features become (deletion) or what the start image is (insertion). Default zeros. */
  readonly baselines?: Baseline;
  /** Points on the curve after the start (features are moved in `steps` equal portions). Default 20. */
  readonly steps?: number;
  /** Features are groups of this mask, ranked by their summed attribution. Default: every element. */
  readonly featureMask?: FeatureMaskInput;
}

export interface Curve {
  /** Fraction of features moved at each point, 0 … 1 ([steps + 1]). */
  readonly fractions: Float64Array;
  /** F_t at each point, one row per input ([batch][steps + 1]). */
  readonly values: readonly Float64Array[];
  /** Area under each row's curve (trapezoid over the fractions). */
  readonly auc: Float64Array;
  readonly evaluations: number;
}

/**
 * Deletion curve (RISE, LiMA): remove features in decreasing order of attribution (replace them by the
 * baseline) and record F_t after each portion. A faithful attribution makes the score fall fast: lower
 * AUC is better.
 *
 * Cost: `batch × (steps + 1)` forward rows.
 * @see Petsiuk, Das, Saenko (2018) RISE, https://arxiv.org/abs/1806.07421
 */
export function deletionCurve(model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, opts: CurveOptions): Promise<Curve> {
  return curve(model, x, attribution, opts, 'deletion');
}

/**
 * Insertion curve: start from the baseline and put features back in decreasing order of attribution;
 * the score should rise fast: higher AUC is better.
 *
 * Cost: `batch × (steps + 1)` forward rows.
 */
export function insertionCurve(model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, opts: CurveOptions): Promise<Curve> {
  return curve(model, x, attribution, opts, 'insertion');
}

async function curve(model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, opts: CurveOptions, mode: 'deletion' | 'insertion'): Promise<Curve> {
  const fn = mode === 'deletion' ? 'deletionCurve' : 'insertionCurve';
  assertBatch(x, 'x', fn);
  assertSameShape(attribution, x, fn);
  const steps = opts.steps ?? 20;
  assertPositiveInt(steps, 'steps', fn);
  const { run, target, batchSize, n } = await prepare(model, x, opts, { fn, cost: x.shape[0]! * (steps + 1), exact: true });
  const groups = resolveFeatureMask(opts.featureMask, x.shape.slice(1), fn);
  const f = groups.count;
  const a = await attribution.data();
  const e = groups.featureOf.length;
  // rank features per row by summed attribution, most important first
  const order = Array.from({ length: n }, (_, i) => {
    const score = new Float64Array(f);
    for (let k = 0; k < e; k++) score[groups.featureOf[k]!]! += a[i * e + k]!;
    return Int32Array.from({ length: f }, (_, g) => g).sort((p, q) => score[q]! - score[p]! || p - q);
  });
  const counts = Array.from({ length: steps + 1 }, (_, s) => Math.round((s / steps) * f));
  return withScope(async (keep) => {
    const base = keep(resolveBaseline(opts.baselines, x, fn));
    // deletion: the top counts[s] features take the baseline; insertion: all but those do
    const v = await evaluatePerturbations(
      model,
      x,
      base,
      {
        count: n * (steps + 1),
        rowOf: (j) => Math.floor(j / (steps + 1)),
        replaced: (j, copy) => {
          const i = Math.floor(j / (steps + 1));
          const c = counts[j % (steps + 1)]!;
          const [from, to] = mode === 'deletion' ? [0, c] : [c, f];
          for (let q = from; q < to; q++) {
            const runs = groups.runs[order[i]![q]!]!;
            for (let r = 0; r < runs.length; r += 2) copy(runs[r]!, runs[r + 1]!);
          }
        },
      },
      target,
      run,
      batchSize,
      fn,
    );
    const fractions = Float64Array.from(counts, (c) => c / f);
    const values = Array.from({ length: n }, (_, i) => Float64Array.from(v.subarray(i * (steps + 1), (i + 1) * (steps + 1))));
    const auc = Float64Array.from(values, (row) => trapezoid(fractions, row));
    return { fractions, values, auc, evaluations: run.finish().evaluations };
  });
}

/** ∫ y dx by the trapezoid rule over increasing x. */
export function trapezoid(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  let s = 0;
  for (let k = 1; k < xs.length; k++) s += ((xs[k]! - xs[k - 1]!) * (ys[k]! + ys[k - 1]!)) / 2;
  return s;
}
