import * as tf from '@tensorflow/tfjs-core';
import { assertBatch } from '../../core/assert.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { Rng } from '../../core/random.js';
import { targetList } from '../../core/target.js';
import type { Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { copyRuns, evaluatePerturbations, spreadToElements } from '../internal/perturb.js';
import { prepare } from '../internal/prepare.js';
import { resolveFeatureMask } from '../masks.js';
import { dropPerFeature, effectiveBatch, type FeatureAblationOptions } from './feature-ablation.js';
import { defineMethod } from '../../core/method.js';
import { maskOption, perturbationsOption, seedOption } from '../internal/options.js';

export type FeaturePermutationOptions = Omit<FeatureAblationOptions, 'baselines'>;

/**
 * Feature permutation: each feature gets F_t(x) − F_t(x with that feature's values taken from another
 * row of the batch), with one seeded random permutation of the rows per feature (Captum semantics;
 * permutation feature importance of Breiman, per row). Needs a batch of at least 2 rows.
 *
 * Cost: `batch × (features + 1)` forward rows.
 *
 * @see Breiman (2001) Random Forests; Fisher, Rudin, Dominici (2019), https://arxiv.org/abs/1801.01489
 */
export class FeaturePermutation implements Attributor<FeaturePermutationOptions> {
  readonly id = 'feature-permutation' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'FeaturePermutation');
  }

  cost(shape: readonly number[], opts: Partial<FeaturePermutationOptions> = {}): number {
    return (shape[0] ?? 1) * (resolveFeatureMask(opts.featureMask, shape.slice(1), 'FeaturePermutation.cost').count + 1);
  }

  async attribute(x: tf.Tensor, opts: FeaturePermutationOptions): Promise<FeatureAttribution> {
    const fn = 'FeaturePermutation.attribute';
    assertBatch(x, 'x', fn);
    if (x.shape[0]! < 2) {
      throw new InvalidArgumentError(`'${fn}' permutes values across the batch and needs at least 2 rows, got ${x.shape[0]}; use feature-ablation for a single input`, {
        arg: 'x',
        fn,
      });
    }
    const rowShape = x.shape.slice(1);
    const groups = resolveFeatureMask(opts?.featureMask, rowShape, fn);
    const f = groups.count;
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: x.shape[0]! * (f + 1), exact: true });
    const perCall = effectiveBatch(batchSize, opts.perturbationsPerEval, n, fn);
    const rng = new Rng(opts.seed ?? featurePermutation.defaults.seed);
    const perms = Array.from({ length: f }, () => rng.permutation(n));
    // jobs 0..n−1: the inputs themselves; then job n + g·n + i takes group g of row i from row perm_g(i)
    const v = await evaluatePerturbations(
      model,
      x,
      x,
      {
        count: n * (f + 1),
        rowOf: (j) => j % n,
        sourceRowOf: (j) => (j < n ? j : perms[Math.floor(j / n) - 1]![j % n]!),
        replaced: (j, copy) => j >= n && copyRuns(groups.runs[Math.floor(j / n) - 1]!, copy),
      },
      target,
      run,
      perCall,
      fn,
    );
    return new FeatureAttribution(this.id, spreadToElements(dropPerFeature(v, n, f), n, f, groups.featureOf, rowShape), withTargets(run.finish(), targetList(target)));
  }
}

/** Feature Permutation's one declaration: catalogue entry, CLI flags and defaults. */
export const featurePermutation = defineMethod({
  id: 'feature-permutation',
  title: 'Feature Permutation',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × (features + 1)',
  reference: 'Breiman 2001; Fisher et al. 2019, arXiv:1801.01489',
  stochastic: true,
  output: 'feature',
  options: { ...maskOption, ...perturbationsOption, ...seedOption },
  create: (m: ModelAdapter) => new FeaturePermutation(m),
});
