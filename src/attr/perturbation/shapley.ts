import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { Rng } from '../../core/random.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import type { Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { copyRuns, evaluatePerturbations, spreadToElements } from '../internal/perturb.js';
import { prepare, samplesWithin } from '../internal/prepare.js';
import { resolveFeatureMask } from '../masks.js';
import { effectiveBatch, type FeatureAblationOptions } from './feature-ablation.js';
import { defineMethod } from '../../core/method.js';
import { maskOption, perturbationsOption, seedOption } from '../internal/options.js';

/** Above this many features exact enumeration (2^F rows per input) is refused. */
export const MAX_EXACT_FEATURES = 20;

/**
 * Exact Shapley values over the features of the mask, absent features set to the baseline:
 * φ_g = Σ_{S ⊆ F∖g} |S|!(|F|−|S|−1)!/|F|! · [v(S ∪ g) − v(S)], from all 2^|F| coalition values.
 *
 * Cost: `batch × 2^features` forward rows (features ≤ 20).
 * Axioms: efficiency Σφ = F_t(x) − F_t(b); symmetry; dummy features get 0.
 *
 * @see Shapley (1953); Captum ShapleyValues (same numbers via the permutation form)
 */
export class ShapleyValues implements Attributor<FeatureAblationOptions> {
  readonly id = 'shapley-values' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'ShapleyValues');
  }

  cost(shape: readonly number[], opts: Partial<FeatureAblationOptions> = {}): number {
    const f = resolveFeatureMask(opts.featureMask, shape.slice(1), 'ShapleyValues.cost').count;
    return (shape[0] ?? 1) * 2 ** Math.min(f, 52);
  }

  async attribute(x: tf.Tensor, opts: FeatureAblationOptions): Promise<FeatureAttribution> {
    const fn = 'ShapleyValues.attribute';
    assertBatch(x, 'x', fn);
    const rowShape = x.shape.slice(1);
    const groups = resolveFeatureMask(opts?.featureMask, rowShape, fn);
    const f = groups.count;
    if (f > MAX_EXACT_FEATURES) {
      throw new InvalidArgumentError(
        `'${fn}' enumerates 2^features coalitions; ${f} features is too many (max ${MAX_EXACT_FEATURES}): group elements with a featureMask or use shapley-value-sampling / kernel-shap`,
        { arg: 'featureMask', fn, features: f, max: MAX_EXACT_FEATURES },
      );
    }
    const subsets = 2 ** f;
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: x.shape[0]! * subsets, exact: true });
    const perCall = effectiveBatch(batchSize, opts.perturbationsPerEval, n, fn);
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      // job j = row i, subset S (bitmask of PRESENT features); absent features take the baseline
      const v = await evaluatePerturbations(
        model,
        x,
        base,
        {
          count: n * subsets,
          rowOf: (j) => Math.floor(j / subsets),
          replaced: (j, copy) => {
            const present = j % subsets;
            for (let g = 0; g < f; g++) if (!(present & (1 << g))) copyRuns(groups.runs[g]!, copy);
          },
        },
        target,
        run,
        perCall,
        fn,
      );
      const weight = shapleyWeights(f);
      const phi = new Float64Array(n * f);
      for (let i = 0; i < n; i++) {
        const vi = v.subarray(i * subsets, (i + 1) * subsets);
        for (let g = 0; g < f; g++) {
          const bit = 1 << g;
          let acc = 0;
          for (let s = 0; s < subsets; s++) if (!(s & bit)) acc += weight[popcount(s)]! * (vi[s | bit]! - vi[s]!);
          phi[i * f + g] = acc;
        }
      }
      return new FeatureAttribution(this.id, spreadToElements(phi, n, f, groups.featureOf, rowShape), withTargets(run.finish(), targetList(target)));
    });
  }
}

/** w(s) = s!(F−s−1)!/F! for s = 0..F−1. */
export function shapleyWeights(f: number): Float64Array {
  const w = new Float64Array(f);
  for (let s = 0; s < f; s++) {
    let v = 1 / f;
    // s!(f−s−1)!/f! = 1 / (f · C(f−1, s))
    let c = 1;
    for (let k = 1; k <= s; k++) c = (c * (f - s - 1 + k)) / k;
    v /= c;
    w[s] = v;
  }
  return w;
}

export function popcount(v: number): number {
  let c = 0;
  while (v) {
    v &= v - 1;
    c++;
  }
  return c;
}

export interface ShapleySamplingOptions extends FeatureAblationOptions {
  /** Random feature orderings per input row (Captum `n_samples`). Default 25. */
  readonly samples?: number;
}

/**
 * Shapley value sampling: the mean marginal contribution of each feature over `samples` seeded
 * random orderings, adding features one by one from the baseline. `diagnostics.stderr` holds the
 * standard error of each mean.
 *
 * Cost: `batch × (samples × features + 1)` forward rows. Anytime: with a smaller `maxEvaluations` it
 * uses as many orderings as fit and reports `truncated: true`.
 * Axioms: efficiency holds exactly for every ordering; unbiased for the Shapley values.
 *
 * @see Castro, Gómez, Tejada (2009); Strumbelj, Kononenko (2010); Captum ShapleyValueSampling
 */
export class ShapleyValueSampling implements Attributor<ShapleySamplingOptions> {
  readonly id = 'shapley-value-sampling' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'ShapleyValueSampling');
  }

  cost(shape: readonly number[], opts: Partial<ShapleySamplingOptions> = {}): number {
    const f = resolveFeatureMask(opts.featureMask, shape.slice(1), 'ShapleyValueSampling.cost').count;
    return (shape[0] ?? 1) * ((opts.samples ?? shapleyValueSampling.defaults.samples) * f + 1);
  }

  async attribute(x: tf.Tensor, opts: ShapleySamplingOptions): Promise<FeatureAttribution> {
    const fn = 'ShapleyValueSampling.attribute';
    assertBatch(x, 'x', fn);
    const requested = opts?.samples ?? shapleyValueSampling.defaults.samples;
    assertPositiveInt(requested, 'samples', fn);
    const rowShape = x.shape.slice(1);
    const groups = resolveFeatureMask(opts?.featureMask, rowShape, fn);
    const f = groups.count;
    const rows = x.shape[0]!;
    // anytime: fewer orderings when maxEvaluations is smaller than the full cost
    const { samples, truncated } = samplesWithin(opts, rows, requested, (s) => rows * (s * f + 1), 1);
    const perRow = samples * f + 1;
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: rows * perRow, exact: true });
    if (truncated) run.markTruncated();
    const perCall = effectiveBatch(batchSize, opts.perturbationsPerEval, n, fn);
    const rng = new Rng(opts.seed ?? shapleyValueSampling.defaults.seed);
    const orders = Array.from({ length: n * samples }, () => rng.permutation(f));
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      // job 0 of a row: the baseline (nothing present); job 1 + s·f + k: the first k+1 features of ordering s present
      const v = await evaluatePerturbations(
        model,
        x,
        base,
        {
          count: n * perRow,
          rowOf: (j) => Math.floor(j / perRow),
          replaced: (j, copy) => {
            const i = Math.floor(j / perRow);
            const local = j % perRow;
            // absent = every feature after position k of the ordering (all of them for job 0)
            const s = local === 0 ? 0 : Math.floor((local - 1) / f);
            const first = local === 0 ? 0 : ((local - 1) % f) + 1;
            const order = orders[i * samples + s]!;
            for (let q = first; q < f; q++) copyRuns(groups.runs[order[q]!]!, copy);
          },
        },
        target,
        run,
        perCall,
        fn,
      );
      const mean = new Float64Array(n * f);
      const se = new Float64Array(n * f);
      for (let i = 0; i < n; i++) {
        const vi = v.subarray(i * perRow, (i + 1) * perRow);
        const sum = new Float64Array(f);
        const sumSq = new Float64Array(f);
        for (let s = 0; s < samples; s++) {
          const order = orders[i * samples + s]!;
          let prev = vi[0]!;
          for (let k = 0; k < f; k++) {
            const cur = vi[1 + s * f + k]!;
            const d = cur - prev;
            sum[order[k]!]! += d;
            sumSq[order[k]!]! += d * d;
            prev = cur;
          }
        }
        for (let g = 0; g < f; g++) {
          const m = sum[g]! / samples;
          mean[i * f + g] = m;
          se[i * f + g] = samples > 1 ? Math.sqrt(Math.max(0, sumSq[g]! / samples - m * m) / (samples - 1)) : 0;
        }
      }
      const stderr = spreadToElements(se, n, f, groups.featureOf, rowShape);
      return new FeatureAttribution(this.id, spreadToElements(mean, n, f, groups.featureOf, rowShape), withTargets({ ...run.finish(), stderr }, targetList(target)));
    });
  }
}

/** Exact Shapley Values' one declaration: catalogue entry, CLI flags and defaults. */
export const shapleyValues = defineMethod({
  id: 'shapley-values',
  title: 'Shapley Values (exact)',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × 2^features',
  reference: 'Shapley 1953; Captum ShapleyValues',
  stochastic: false,
  output: 'feature',
  options: { ...maskOption, ...perturbationsOption },
  create: (m: ModelAdapter) => new ShapleyValues(m),
});

/** Shapley Value Sampling's one declaration: catalogue entry, CLI flags and defaults. */
export const shapleyValueSampling = defineMethod({
  id: 'shapley-value-sampling',
  title: 'Shapley Value Sampling',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × (samples × features + 1)',
  reference: 'Castro et al. 2009; Štrumbelj & Kononenko 2010',
  stochastic: true,
  output: 'feature',
  options: { ...maskOption, ...perturbationsOption, samples: { type: 'int', help: 'random orderings per input', default: 25 }, ...seedOption },
  create: (m: ModelAdapter) => new ShapleyValueSampling(m),
});
