import * as tf from '@tensorflow/tfjs-core';
import { assertNonNegative, assertPositiveInt } from '../../core/assert.js';
import { resolveBaselineDistribution } from '../../core/baseline.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { Rng } from '../../core/random.js';
import { withScope } from '../../core/scope.js';
import { objectiveFor, targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel, type ModelAdapter } from '../../models/model.js';
import { completenessGap, evaluateObjective, forwardAll, rowSums, weightedGradientSum } from '../internal/evaluate.js';
import { prepare, samplesWithin } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel, seedOption } from '../internal/options.js';

export interface GradientShapOptions extends AttributeOptions {
  /** Samples per input row (Captum `n_samples`). Default 5 (GradientSHAP), 32 (Expected Gradients). */
  readonly samples?: number;
  /** Standard deviation of Gaussian noise added to the input per sample (absolute). Default 0. */
  readonly stdevs?: number;
}

/**
 * GradientSHAP: E over baselines b drawn from `baselines` (a tensor [samples, ...features] read as a
 * distribution), α ~ U(0, 1) and input noise ε ~ N(0, stdevs²) of (x̃ − b) ⊙ ∂F_t/∂x (b + α(x̃ − b)),
 * x̃ = x + ε (Captum semantics).
 *
 * Cost: `batch × samples` forward+backward rows, plus `batch` + (baseline rows) forward rows for the gap.
 * Anytime: with a smaller `maxEvaluations` it draws as many samples as fit and reports `truncated: true`.
 * Axiom: completeness in expectation; `convergenceDelta` = Σ attr − (F(x) − mean F(b) over the drawn b).
 *
 * @see Lundberg, Lee (2017), https://arxiv.org/abs/1705.07874
 */
export class GradientShap implements Attributor<GradientShapOptions> {
  readonly id: 'gradient-shap' | 'expected-gradients' = 'gradient-shap';
  protected get defaultSamples(): number {
    return gradientShap.defaults.samples;
  }
  constructor(protected readonly model: DifferentiableModel) {
    requireGradients(model, 'GradientShap');
  }

  cost(shape: readonly number[], opts: Partial<GradientShapOptions> = {}): number {
    const n = shape[0] ?? 1;
    const b = opts.baselines instanceof tf.Tensor && opts.baselines.rank === shape.length ? opts.baselines.shape[0]! : 1;
    const perRow = opts.inputs !== undefined && Object.keys(opts.inputs).length > 0;
    return n * (opts.samples ?? this.defaultSamples) + n + (perRow ? n * b : b);
  }

  async attribute(x: tf.Tensor, opts: GradientShapOptions): Promise<FeatureAttribution> {
    const fn = `${this.constructor.name}.attribute`;
    const requested = opts?.samples ?? this.defaultSamples;
    const stdevs = opts?.stdevs ?? gradientShap.defaults.stdevs;
    assertPositiveInt(requested, 'samples', fn);
    assertNonNegative(stdevs, 'stdevs', fn);
    // anytime: fewer samples when maxEvaluations is smaller than the full cost
    const { samples, truncated } = samplesWithin(opts, x.shape?.[0] ?? 1, requested, (s) => this.cost(x.shape, { ...opts, samples: s }), 1);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { ...opts, samples }), exact: true });
    if (truncated) run.markTruncated();
    return withScope(async (keep) => {
      const dist = keep(resolveBaselineDistribution(opts.baselines, x, fn)); // [B, ...features]
      const nb = dist.shape[0]!;
      const rowShape = x.shape.slice(1);
      const rng = new Rng(opts.seed ?? gradientShap.defaults.seed);
      const count = n * samples;
      const rowOf = new Int32Array(count);
      const pick = new Int32Array(count);
      const alpha = new Float32Array(count);
      for (let j = 0; j < count; j++) {
        rowOf[j] = Math.floor(j / samples);
        pick[j] = rng.int(nb);
        alpha[j] = rng.next();
      }
      const weight = new Float32Array(count).fill(1 / samples);
      const rowSize = rowShape.reduce((a, b) => a * b, 1);
      const [xd, bd] = [(await x.data()) as Float32Array, (await dist.data()) as Float32Array];
      // x̃ = x + ε, points b + α(x̃ − b) and factors x̃ − b, built on the host
      const build = (s: number, e: number) => {
        const pts = new Float32Array((e - s) * rowSize);
        const fac = new Float32Array((e - s) * rowSize);
        for (let j = s; j < e; j++) {
          const xo = rowOf[j]! * rowSize;
          const bo = pick[j]! * rowSize;
          const a = alpha[j]!;
          const o = (j - s) * rowSize;
          for (let q = 0; q < rowSize; q++) {
            const xn = stdevs > 0 ? xd[xo + q]! + rng.normal() * stdevs : xd[xo + q]!;
            const d = xn - bd[bo + q]!;
            fac[o + q] = d;
            pts[o + q] = bd[bo + q]! + a * d;
          }
        }
        return { points: pts, factor: fac };
      };
      const values = keep(await weightedGradientSum(model, rowShape, n, { count, rowOf, weight, build }, target, run, batchSize, fn));
      const fx = await evaluateObjective(model, x, target, run, batchSize, fn);
      // F(b) for the drawn baselines: one pass over the distribution, unless fixed extra inputs make
      // it depend on the row (then B rows per input row)
      const perRow = opts.inputs !== undefined && Object.keys(opts.inputs).length > 0;
      const distOut = perRow ? undefined : keep(await forwardAll(model, dist, run, batchSize)); // [B, ...outputs]
      const fbMean = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const ids = new Int32Array(nb).fill(i);
        let fbi: Float32Array;
        if (distOut) {
          const fb = tf.tidy(() => objectiveFor(target, ids, fn)(distOut));
          fbi = (await fb.data()) as Float32Array;
          fb.dispose();
        } else fbi = await evaluateObjective(model, dist, target, run, batchSize, fn, ids);
        let acc = 0;
        for (let k = 0; k < samples; k++) acc += fbi[pick[i * samples + k]!]!;
        fbMean[i] = acc / samples;
      }
      const convergenceDelta = completenessGap(await rowSums(values), fx, fbMean);
      return new FeatureAttribution(this.id, values.clone(), withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
    });
  }
}

/**
 * Expected Gradients: GradientSHAP without input noise, with baselines drawn from a background data
 * set — E_{b∼D, α∼U(0,1)} [(x − b) ⊙ ∂F_t/∂x (b + α(x − b))].
 *
 * Cost: `batch × samples` forward+backward rows (default samples 32).
 *
 * @see Erion et al. (2021), https://arxiv.org/abs/1906.10670
 */
export class ExpectedGradients extends GradientShap {
  override readonly id = 'expected-gradients' as const;
  protected override get defaultSamples(): number {
    return expectedGradients.defaults.samples;
  }
  override async attribute(x: tf.Tensor, opts: GradientShapOptions): Promise<FeatureAttribution> {
    return super.attribute(x, { ...opts, stdevs: 0 });
  }
}

/** GradientSHAP's one declaration: catalogue entry, CLI flags and defaults. */
export const gradientShap = defineMethod({
  id: 'gradient-shap',
  title: 'GradientSHAP',
  family: 'gradient',
  requires: 'gradients',
  cost: 'batch × (samples + 1) + baselines',
  reference: 'Lundberg & Lee 2017, arXiv:1705.07874',
  stochastic: true,
  output: 'feature',
  options: {
    samples: { type: 'int', help: 'samples per input', default: 5 },
    stdevs: { type: 'number', help: 'input noise standard deviation', default: 0 },
    ...seedOption,
  },
  create: (m: ModelAdapter) => new GradientShap(gradientModel(m, 'GradientShap')),
});

/** Expected Gradients' one declaration: catalogue entry, CLI flags and defaults. */
export const expectedGradients = defineMethod({
  id: 'expected-gradients',
  title: 'Expected Gradients',
  family: 'gradient',
  requires: 'gradients',
  cost: 'batch × (samples + 1) + baselines',
  reference: 'Erion et al. 2021, arXiv:1906.10670',
  stochastic: true,
  output: 'feature',
  options: { samples: { type: 'int', help: 'samples per input', default: 32 }, ...seedOption },
  create: (m: ModelAdapter) => new ExpectedGradients(gradientModel(m, 'ExpectedGradients')),
});
