import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { copyRuns, evaluatePerturbations, spreadToElements } from '../internal/perturb.js';
import { prepare } from '../internal/prepare.js';
import { resolveFeatureMask, type FeatureMaskInput } from '../masks.js';
import { defineMethod } from '../../core/method.js';
import { maskOption, perturbationsOption } from '../internal/options.js';

export interface FeatureAblationOptions extends AttributeOptions {
  /** Integer group id per element of one row (or broadcastable to it). Default: every element alone. */
  readonly featureMask?: FeatureMaskInput;
  /** Perturbed copies per input row in one model call (Captum `perturbations_per_eval`), bounded by `batchSize`. Default: as many as `batchSize` allows. */
  readonly perturbationsPerEval?: number;
}

/**
 * Feature ablation: each feature (group of the mask) gets F_t(x) − F_t(x with the group set to the baseline).
 *
 * Cost: `batch × (features + 1)` forward rows.
 * Axiom: a feature the model ignores gets exactly 0.
 *
 * @see Captum FeatureAblation; Covert, Lundberg, Lee (2021) "Explaining by Removing", https://arxiv.org/abs/2011.14878
 */
export class FeatureAblation implements Attributor<FeatureAblationOptions> {
  readonly id = 'feature-ablation' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'FeatureAblation');
  }

  cost(shape: readonly number[], opts: Partial<FeatureAblationOptions> = {}): number {
    const groups = resolveFeatureMask(opts.featureMask, shape.slice(1), 'FeatureAblation.cost');
    return (shape[0] ?? 1) * (groups.count + 1);
  }

  async attribute(x: tf.Tensor, opts: FeatureAblationOptions): Promise<FeatureAttribution> {
    const fn = 'FeatureAblation.attribute';
    assertBatch(x, 'x', fn);
    const rowShape = x.shape.slice(1);
    const groups = resolveFeatureMask(opts?.featureMask, rowShape, fn);
    const f = groups.count;
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: n1(x) * (f + 1), exact: true });
    const perCall = effectiveBatch(batchSize, opts.perturbationsPerEval, n, fn);
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      // jobs 0..n−1: the inputs themselves (F(x)); then job n + g·n + i ablates group g of row i
      const v = await evaluatePerturbations(
        model,
        x,
        base,
        { count: n * (f + 1), rowOf: (j) => j % n, replaced: (j, copy) => j >= n && copyRuns(groups.runs[Math.floor(j / n) - 1]!, copy) },
        target,
        run,
        perCall,
        fn,
      );
      return new FeatureAttribution(this.id, spreadToElements(dropPerFeature(v, n, f), n, f, groups.featureOf, rowShape), withTargets(run.finish(), targetList(target)));
    });
  }
}

const n1 = (x: tf.Tensor): number => x.shape[0]!;

/** Rows per model call: `batchSize`, or `perturbationsPerEval × batch` when that is smaller. */
export function effectiveBatch(batchSize: number, perturbationsPerEval: number | undefined, n: number, fn: string): number {
  if (perturbationsPerEval === undefined) return batchSize;
  assertPositiveInt(perturbationsPerEval, 'perturbationsPerEval', fn);
  return Math.max(1, Math.min(batchSize, perturbationsPerEval * n));
}

/** φ[i][g] = v[i] − v[(g + 1)·n + i]: the output drop of row i when feature g is replaced (jobs laid out as in FeatureAblation). */
export function dropPerFeature(v: Float32Array, n: number, f: number): Float64Array {
  const phi = new Float64Array(n * f);
  for (let g = 0; g < f; g++) for (let i = 0; i < n; i++) phi[i * f + g] = v[i]! - v[(g + 1) * n + i]!;
  return phi;
}

/** Feature Ablation's one declaration: catalogue entry, CLI flags and defaults. */
export const featureAblation = defineMethod({
  id: 'feature-ablation',
  title: 'Feature Ablation',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × (features + 1)',
  reference: 'Captum; Covert et al. 2021, arXiv:2011.14878',
  stochastic: false,
  output: 'feature',
  options: { ...maskOption, ...perturbationsOption },
  create: (m: ModelAdapter) => new FeatureAblation(m),
});
