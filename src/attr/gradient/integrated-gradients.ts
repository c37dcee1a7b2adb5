import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../../core/baseline.js';
import { pathSchedule, type QuadratureRule } from '../../core/quadrature.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel, type ModelAdapter } from '../../models/model.js';
import { completenessGap, evaluateObjective, rowSums, weightedGradientSum } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel, pathOptions } from '../internal/options.js';

export interface IntegratedGradientsOptions extends AttributeOptions {
  /** Quadrature nodes on the baseline → input path (Captum `n_steps`). Default 50. */
  readonly steps?: number;
  /** Default 'gauss-legendre'. See `quadrature` for `trapezoid` vs Captum's `riemann_trapezoid`. */
  readonly rule?: QuadratureRule;
}

/**
 * Integrated Gradients: (x − b) ⊙ ∫₀¹ ∂F_t/∂x (b + α(x − b)) dα, by quadrature.
 *
 * Cost: `batch × steps` forward+backward rows, plus `2 × batch` forward rows for the completeness gap,
 * checked against `maxEvaluations` before work starts.
 * Axiom: completeness; the per-row gap Σ attr − (F(x) − F(b)) is `diagnostics.convergenceDelta`.
 * Differs from Captum: rule `trapezoid` is the true trapezoid rule (weights sum to 1); Captum's
 * `riemann_trapezoid` weights sum to 1 − 1/steps (its values are ours × (steps − 1)/steps), available
 * as `trapezoid-captum`.
 *
 * @see Sundararajan, Taly, Yan (2017), https://arxiv.org/abs/1703.01365
 * @throws {CapabilityError} `capability_missing` when the model has no gradients.
 * @throws {ShapeMismatchError} when `baselines` does not broadcast to `x`.
 * @example
 * ```ts
 * const ig = new IntegratedGradients(fromLayersModel(net));
 * using attr = await ig.attribute(images, { target: 3, steps: 64 });
 * ```
 */
export class IntegratedGradients implements Attributor<IntegratedGradientsOptions> {
  readonly id = 'integrated-gradients' as const;
  constructor(private readonly model: DifferentiableModel) {
    requireGradients(model, 'IntegratedGradients');
  }

  cost(shape: readonly number[], opts: Partial<IntegratedGradientsOptions> = {}): number {
    const n = shape[0] ?? 1;
    return n * (opts.steps ?? integratedGradients.defaults.steps) + 2 * n;
  }

  async attribute(x: tf.Tensor, opts: IntegratedGradientsOptions): Promise<FeatureAttribution> {
    const fn = 'IntegratedGradients.attribute';
    const { steps, nodes, weights } = pathSchedule(opts, integratedGradients.defaults, fn);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { steps }), exact: true });
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      const rowShape = x.shape.slice(1);
      const count = n * steps;
      const rowOf = new Int32Array(count);
      const weight = new Float32Array(count);
      const alpha = new Float32Array(count);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < steps; k++) {
          rowOf[i * steps + k] = i;
          weight[i * steps + k] = weights[k]!;
          alpha[i * steps + k] = nodes[k]!;
        }
      }
      const diff = keep(tf.sub(x, base));
      const [bd, dd] = [(await base.data()) as Float32Array, (await diff.data()) as Float32Array];
      const e = bd.length / n;
      // path points b + α(x − b), built on the host (device gathers are slow on wasm)
      const build = (s: number, end: number) => {
        const pts = new Float32Array((end - s) * e);
        for (let j = s; j < end; j++) {
          const o = rowOf[j]! * e;
          const a = alpha[j]!;
          const po = (j - s) * e;
          for (let q = 0; q < e; q++) pts[po + q] = bd[o + q]! + a * dd[o + q]!;
        }
        return { points: pts };
      };
      const sum = keep(await weightedGradientSum(model, rowShape, n, { count, rowOf, weight, build }, target, run, batchSize, fn));
      const values = keep(tf.tidy(() => tf.mul(sum, diff)));
      const [fx, fb] = [await evaluateObjective(model, x, target, run, batchSize, fn), await evaluateObjective(model, base, target, run, batchSize, fn)];
      const convergenceDelta = completenessGap(await rowSums(values), fx, fb);
      return new FeatureAttribution(this.id, values.clone(), withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
    });
  }
}

/** Integrated Gradients' one declaration: catalogue entry, CLI flags and defaults. */
export const integratedGradients = defineMethod({
  id: 'integrated-gradients',
  title: 'Integrated Gradients',
  family: 'gradient',
  requires: 'gradients',
  cost: 'batch × (steps + 2)',
  reference: 'Sundararajan et al. 2017, arXiv:1703.01365',
  stochastic: false,
  output: 'feature',
  options: { ...pathOptions },
  create: (m: ModelAdapter) => new IntegratedGradients(gradientModel(m, 'IntegratedGradients')),
});
