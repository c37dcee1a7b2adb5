import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertHostAllocation, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { coalitionCount, constrainedFit, drawCoalitions } from '../../core/shapley-kernel.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { Rng } from '../../core/random.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import type { Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { evaluateCoalitions, spreadToElements } from '../internal/perturb.js';
import { prepare, samplesWithin } from '../internal/prepare.js';
import { resolveFeatureMask } from '../masks.js';
import { effectiveBatch, type FeatureAblationOptions } from './feature-ablation.js';
import { defineMethod } from '../../core/method.js';
import { maskOption, perturbationsOption, seedOption } from '../internal/options.js';

export interface KernelShapOptions extends FeatureAblationOptions {
  /** Coalitions evaluated per input row (besides the full and the empty one). Default 200. */
  readonly samples?: number;
}

/**
 * KernelSHAP: Shapley values as the solution of a weighted linear regression of F_t on feature
 * coalitions, weighted by the Shapley kernel π(S) = (M−1) / (C(M,|S|)·|S|·(M−|S|)), with the
 * efficiency constraint Σφ = F_t(x) − F_t(b) imposed exactly (the SHAP formulation; Captum instead
 * fits an unconstrained regression with large weights on the full and empty coalitions).
 * When `samples` ≥ 2^M − 2 every coalition is enumerated with its exact kernel weight, which gives the
 * exact Shapley values; otherwise coalition sizes are drawn from the kernel distribution, subsets
 * uniformly, in complementary pairs (antithetic sampling).
 *
 * Cost: `batch × (min(samples, 2^M − 2) + 2)` forward rows. Anytime: with a smaller `maxEvaluations` it
 * draws as many coalitions as fit and reports `truncated: true`.
 * Axioms: efficiency (exact, by construction); exact Shapley values under enumeration.
 *
 * @see Lundberg, Lee (2017), https://arxiv.org/abs/1705.07874; Covert, Lee (2021), https://arxiv.org/abs/2012.01536
 */
export class KernelShap implements Attributor<KernelShapOptions> {
  readonly id = 'kernel-shap' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'KernelShap');
  }

  cost(shape: readonly number[], opts: Partial<KernelShapOptions> = {}): number {
    const m = resolveFeatureMask(opts.featureMask, shape.slice(1), 'KernelShap.cost').count;
    return (shape[0] ?? 1) * (coalitionCount(m, opts.samples ?? kernelShap.defaults.samples) + 2);
  }

  async attribute(x: tf.Tensor, opts: KernelShapOptions): Promise<FeatureAttribution> {
    const fn = 'KernelShap.attribute';
    assertBatch(x, 'x', fn);
    const requested = opts?.samples ?? kernelShap.defaults.samples;
    assertPositiveInt(requested, 'samples', fn);
    const rowShape = x.shape.slice(1);
    const groups = resolveFeatureMask(opts?.featureMask, rowShape, fn);
    const m = groups.count;
    const rows = x.shape[0]!;
    // anytime: fewer coalitions when maxEvaluations is smaller than the full cost
    const fit = samplesWithin(opts, rows, coalitionCount(m, requested), (s) => rows * (s + 2), Math.min(2, coalitionCount(m, requested)));
    const k = fit.samples;
    const perRow = k + 2;
    assertHostAllocation(rows * perRow * m, 'samples', fn);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: rows * perRow, exact: true });
    if (fit.truncated) run.markTruncated();
    const perCall = effectiveBatch(batchSize, opts.perturbationsPerEval, n, fn);
    const rng = new Rng(opts.seed ?? kernelShap.defaults.seed);
    // per row: job 0 = all present, job 1 = none present, then k coalitions
    const present = new Uint8Array(n * perRow * m);
    const weights: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      const off = i * perRow * m;
      present.fill(1, off, off + m);
      const { z, w } = m <= 1 ? { z: new Uint8Array(0), w: new Float64Array(0) } : drawCoalitions(m, k, rng);
      present.set(z, off + 2 * m);
      weights.push(w);
    }
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      const v = await evaluateCoalitions(model, x, base, groups.runs, present, (j) => Math.floor(j / perRow), target, run, perCall, fn);
      run.enterPhase(`fitting the weighted regression (${m} features)`);
      const phi = new Float64Array(n * m);
      for (let i = 0; i < n; i++) {
        const vi = v.subarray(i * perRow, (i + 1) * perRow);
        const z = present.subarray((i * perRow + 2) * m, (i + 1) * perRow * m);
        phi.set(constrainedFit(z, vi.subarray(2), weights[i]!, m, vi[0]!, vi[1]!), i * m);
      }
      return new FeatureAttribution(this.id, spreadToElements(phi, n, m, groups.featureOf, rowShape), withTargets(run.finish(), targetList(target)));
    });
  }
}

/** KernelSHAP's one declaration: catalogue entry, CLI flags and defaults. */
export const kernelShap = defineMethod({
  id: 'kernel-shap',
  title: 'KernelSHAP',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × (min(samples, 2^features − 2) + 2)',
  reference: 'Lundberg & Lee 2017, arXiv:1705.07874',
  stochastic: true,
  output: 'feature',
  options: { ...maskOption, ...perturbationsOption, samples: { type: 'int', help: 'coalitions per input', default: 200 }, ...seedOption },
  create: (m: ModelAdapter) => new KernelShap(m),
});
