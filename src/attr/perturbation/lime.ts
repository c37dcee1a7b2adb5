import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertHostAllocation, assertNonNegative, assertOneOf, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { weightedLasso, weightedRidge } from '../../core/linalg.js';
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

export type LimeSurrogate = 'lasso' | 'ridge';

export interface LimeOptions extends FeatureAblationOptions {
  /** Perturbed samples per input row. Default 200. */
  readonly samples?: number;
  /** Interpretable model: weighted Lasso (Captum's default) or ridge. Default 'lasso'. */
  readonly surrogate?: LimeSurrogate;
  /** Regularisation strength (sklearn `alpha`). Default 0.01. */
  readonly alpha?: number;
  /** Width of the exponential kernel on the cosine distance. Default 1. */
  readonly kernelWidth?: number;
}

/**
 * LIME: fit a weighted sparse linear surrogate of F_t on random binary coalitions of the features
 * (each present with probability 1/2; absent ones take the baseline), weighting each sample by
 * exp(−d²/(2·width²)), d = cosine distance between the original and the perturbed input (Captum's
 * defaults). Each feature gets its surrogate coefficient.
 *
 * Cost: `batch × samples` forward rows. Anytime: with a smaller `maxEvaluations` it uses as many
 * samples as fit and reports `truncated: true`.
 *
 * @see Ribeiro, Singh, Guestrin (2016), https://arxiv.org/abs/1602.04938
 */
export class Lime implements Attributor<LimeOptions> {
  readonly id = 'lime' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'Lime');
  }

  cost(shape: readonly number[], opts: Partial<LimeOptions> = {}): number {
    return (shape[0] ?? 1) * (opts.samples ?? lime.defaults.samples);
  }

  async attribute(x: tf.Tensor, opts: LimeOptions): Promise<FeatureAttribution> {
    const fn = 'Lime.attribute';
    assertBatch(x, 'x', fn);
    const requested = opts?.samples ?? lime.defaults.samples;
    const surrogate = opts?.surrogate ?? lime.defaults.surrogate;
    const alpha = opts?.alpha ?? lime.defaults.alpha;
    const width = opts?.kernelWidth ?? lime.defaults.kernelWidth;
    assertPositiveInt(requested, 'samples', fn);
    assertOneOf(surrogate, ['lasso', 'ridge'] as const, 'surrogate', fn);
    assertNonNegative(alpha, 'alpha', fn);
    assertNonNegative(width, 'kernelWidth', fn);
    const rowShape = x.shape.slice(1);
    const groups = resolveFeatureMask(opts?.featureMask, rowShape, fn);
    const m = groups.count;
    const rows = x.shape[0]!;
    // anytime: fewer samples when maxEvaluations is smaller than the full cost
    const { samples, truncated } = samplesWithin(opts, rows, requested, (s) => rows * s, Math.min(2, requested));
    assertHostAllocation(rows * samples * m, 'samples', fn);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: rows * samples, exact: true });
    if (truncated) run.markTruncated();
    const perCall = effectiveBatch(batchSize, opts.perturbationsPerEval, n, fn);
    const rng = new Rng(opts.seed ?? lime.defaults.seed);
    const present = new Uint8Array(n * samples * m);
    for (let j = 0; j < present.length; j++) present[j] = rng.next() < 0.5 ? 1 : 0;
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      const v = await evaluateCoalitions(model, x, base, groups.runs, present, (j) => Math.floor(j / samples), target, run, perCall, fn);
      const [xd, bd] = [(await x.data()) as Float32Array, (await base.data()) as Float32Array];
      const e = groups.featureOf.length;
      run.enterPhase(`fitting the ${surrogate} surrogate (${m} features)`);
      const coef = new Float64Array(n * m);
      for (let i = 0; i < n; i++) {
        const sums = featureSums(xd.subarray(i * e, (i + 1) * e), bd.subarray(i * e, (i + 1) * e), groups.featureOf, m);
        const zx = new Float64Array(samples * m);
        const y = new Float64Array(samples);
        const w = new Float64Array(samples);
        for (let s = 0; s < samples; s++) {
          const z = present.subarray((i * samples + s) * m, (i * samples + s + 1) * m);
          for (let g = 0; g < m; g++) zx[s * m + g] = z[g]!;
          y[s] = v[i * samples + s]!;
          const d = cosineDistance(sums, z);
          w[s] = Math.exp(-(d * d) / (2 * width * width));
        }
        const fit = surrogate === 'lasso' ? weightedLasso(zx, y, w, samples, m, alpha) : weightedRidge(zx, y, w, samples, m, alpha);
        coef.set(fit.coef, i * m);
      }
      return new FeatureAttribution(this.id, spreadToElements(coef, n, m, groups.featureOf, rowShape), withTargets(run.finish(), targetList(target)));
    });
  }
}

/** Per-feature sums that make the cosine distance of a coalition O(features): Σx², Σx·b, Σb² over each group. */
function featureSums(x: Float32Array, b: Float32Array, featureOf: Int32Array, m: number) {
  const xx = new Float64Array(m);
  const xb = new Float64Array(m);
  const bb = new Float64Array(m);
  for (let k = 0; k < x.length; k++) {
    const g = featureOf[k]!;
    xx[g]! += x[k]! * x[k]!;
    xb[g]! += x[k]! * b[k]!;
    bb[g]! += b[k]! * b[k]!;
  }
  let norm = 0;
  for (let g = 0; g < m; g++) norm += xx[g]!;
  return { xx, xb, bb, norm };
}

/**
 * 1 − cos(x, x̃), x̃ = x on present features and the baseline elsewhere (Captum's default distance);
 * 1 when either vector is zero.
 */
function cosineDistance(s: ReturnType<typeof featureSums>, present: Uint8Array): number {
  let dot = 0;
  let np = 0;
  for (let g = 0; g < present.length; g++) {
    if (present[g]) (dot += s.xx[g]!), (np += s.xx[g]!);
    else (dot += s.xb[g]!), (np += s.bb[g]!);
  }
  if (s.norm === 0 || np === 0) return 1;
  return 1 - dot / Math.sqrt(s.norm * np);
}

/** LIME's one declaration: catalogue entry, CLI flags and defaults. */
export const lime = defineMethod({
  id: 'lime',
  title: 'LIME',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × samples',
  reference: 'Ribeiro et al. 2016, arXiv:1602.04938',
  stochastic: true,
  output: 'feature',
  options: {
    ...maskOption,
    ...perturbationsOption,
    samples: { type: 'int', help: 'perturbed samples per input', default: 200 },
    surrogate: { type: 'enum', values: ['lasso', 'ridge'], help: 'interpretable model', default: 'lasso' },
    alpha: { type: 'number', help: 'regularisation strength', default: 0.01 },
    kernelWidth: { type: 'number', help: 'similarity kernel width (cosine distance)', default: 1 },
    ...seedOption,
  },
  create: (m: ModelAdapter) => new Lime(m),
});
