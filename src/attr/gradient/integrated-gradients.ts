import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../../core/baseline.js';
import { adaptiveNodes, adaptivePilotCells, assertStepsWithinCap, pathSchedule, QUADRATURE_RULES, type QuadratureRule } from '../../core/quadrature.js';
import { assertOneOf, assertPositiveInt } from '../../core/assert.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { objectiveValues, targetList, type ResolvedTarget } from '../../core/target.js';
import { chunks } from '../../core/batching.js';
import type { Budget } from '../../core/budget.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel, type ModelAdapter } from '../../models/model.js';
import { completenessGap, evaluateObjective, rowSums, weightedGradientSum } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel, pathOptions } from '../internal/options.js';

export interface IntegratedGradientsOptions extends AttributeOptions {
  /** Quadrature nodes on the baseline → input path (Captum `n_steps`). Default 50. */
  readonly steps?: number;
  /**
   * Default 'gauss-legendre'. See `quadrature` for `trapezoid` vs Captum's `riemann_trapezoid`.
   * `adaptive` (attrib's own): a midpoint rule whose nodes crowd where the path is rough, placed per
   * input row from a forward-only pilot of F along the path (`adaptiveNodes`); for networks whose
   * integrand swings (hard-swish, ReLU6 and max-pool kinks), at the cost of max(8, ⌈steps/2⌉) + 1 forward
   * rows per input row.
   */
  readonly rule?: IntegratedGradientsRule;
}

/** The options of the path methods whose nodes are fixed (layer conductance, internal influence). */
export interface FixedPathOptions extends Omit<IntegratedGradientsOptions, 'rule'> {
  /** Default 'gauss-legendre'; `adaptive` is IG's (and layer IG's) alone. */
  readonly rule?: QuadratureRule;
}

/** IG's rules: the fixed quadratures, and `adaptive`, whose nodes depend on the path. */
export type IntegratedGradientsRule = QuadratureRule | 'adaptive';
export const INTEGRATED_GRADIENTS_RULES: readonly IntegratedGradientsRule[] = [...QUADRATURE_RULES, 'adaptive'];

/**
 * Integrated Gradients: (x − b) ⊙ ∫₀¹ ∂F_t/∂x (b + α(x − b)) dα, by quadrature.
 *
 * Cost: `batch × steps` forward+backward rows, plus `2 × batch` forward rows for the completeness gap
 * (and `batch × (max(8, ⌈steps/2⌉) + 1)` pilot forward rows with rule `adaptive`), checked against
 * `maxEvaluations` before work starts.
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
    return pathCost(shape[0] ?? 1, opts.steps ?? integratedGradients.defaults.steps, opts.rule);
  }

  async attribute(x: tf.Tensor, opts: IntegratedGradientsOptions): Promise<FeatureAttribution> {
    const fn = 'IntegratedGradients.attribute';
    if (opts.rule !== undefined) assertOneOf(opts.rule, INTEGRATED_GRADIENTS_RULES, 'rule', fn);
    const adaptive = opts.rule === 'adaptive';
    const { steps, nodes, weights } = adaptive ? adaptiveSteps(opts.steps, fn) : pathSchedule(fixedRule(opts), integratedGradients.defaults, fn);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { steps, ...(adaptive ? { rule: 'adaptive' } : {}) }), exact: true });
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
      if (adaptive) {
        // each row's nodes from F at the pilot's uniform points of its own path
        const P = adaptivePilotCells(steps);
        const pilotRow = (j: number) => Math.floor(j / (P + 1));
        const pilotPoints = (s: number, end: number) => pathPoints(bd, dd, e, s, end, pilotRow, (j) => (j % (P + 1)) / P);
        const pilot = await pathValues(model, n * (P + 1), pilotRow, pilotPoints, x.shape.slice(1), target, run, batchSize, fn);
        for (let i = 0; i < n; i++) {
          const q = adaptiveNodes(pilot.subarray(i * (P + 1), (i + 1) * (P + 1)), steps);
          weight.set(q.weights, i * steps);
          alpha.set(q.nodes, i * steps);
        }
      }
      // path points b + α(x − b), built on the host (device gathers are slow on wasm)
      const build = (s: number, end: number) => ({ points: pathPoints(bd, dd, e, s, end, (j) => rowOf[j]!, (j) => alpha[j]!) });
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
  cost: 'batch × (steps + 2); + batch × (max(8, ⌈steps/2⌉) + 1) forward with rule adaptive',
  reference: 'Sundararajan et al. 2017, arXiv:1703.01365',
  stochastic: false,
  output: 'feature',
  options: { ...pathOptions, rule: { ...pathOptions.rule, values: INTEGRATED_GRADIENTS_RULES } },
  create: (m: ModelAdapter) => new IntegratedGradients(gradientModel(m, 'IntegratedGradients')),
});

/** IG's model rows for `n` inputs: the path's gradient rows, F(x) and F(b), and the adaptive rule's pilot. */
export function pathCost(n: number, steps: number, rule: IntegratedGradientsRule | undefined): number {
  return n * steps + 2 * n + (rule === 'adaptive' ? n * (adaptivePilotCells(steps) + 1) : 0);
}

/** The options with a fixed rule (the `adaptive` branch is taken before). */
function fixedRule(opts: IntegratedGradientsOptions): { readonly steps?: number; readonly rule?: QuadratureRule } {
  const { rule } = opts;
  return rule === 'adaptive' || rule === undefined ? { ...(opts.steps === undefined ? {} : { steps: opts.steps }) } : { ...(opts.steps === undefined ? {} : { steps: opts.steps }), rule };
}

/** `steps` checked for the `adaptive` rule; its nodes differ per row and are written over these zero arrays once the pilot has run. */
function adaptiveSteps(given: number | undefined, fn: string): { steps: number; nodes: Float64Array; weights: Float64Array } {
  const steps = given ?? integratedGradients.defaults.steps;
  assertPositiveInt(steps, 'steps', fn);
  assertStepsWithinCap(steps, 'riemann-middle', fn);
  return { steps, nodes: new Float64Array(steps), weights: new Float64Array(steps) };
}

/** Path points b + α_j (x − b) for j in [s, end), row-major, of rows `rowOf(j)` (`e` features a row). */
function pathPoints(bd: Float32Array, dd: Float32Array, e: number, s: number, end: number, rowOf: (j: number) => number, alphaOf: (j: number) => number): Float32Array {
  const pts = new Float32Array((end - s) * e);
  for (let j = s; j < end; j++) {
    const o = rowOf(j) * e;
    const a = alphaOf(j);
    const po = (j - s) * e;
    for (let q = 0; q < e; q++) pts[po + q] = bd[o + q]! + a * dd[o + q]!;
  }
  return pts;
}

/** F_t at `count` path points of rows `rowOf(j)`, built by `points` chunk by chunk (forward passes of `batchSize` rows), as float32. */
async function pathValues(
  model: ModelAdapter,
  count: number,
  rowOf: (j: number) => number,
  points: (s: number, end: number) => Float32Array,
  rowShape: readonly number[],
  target: ResolvedTarget,
  run: Budget,
  batchSize: number,
  fn: string,
): Promise<Float32Array> {
  const out = new Float32Array(count);
  for (const [s, end] of chunks(count, batchSize, run)) {
    await run.checkpoint(end - s);
    const ids = Int32Array.from({ length: end - s }, (_, k) => rowOf(s + k));
    const batch = tf.tensor(points(s, end), [end - s, ...rowShape]);
    let y: tf.Tensor;
    try {
      y = await model.forward(batch, { rows: ids });
    } finally {
      batch.dispose();
    }
    try {
      out.set(await objectiveValues(y, target, ids, fn), s);
    } finally {
      y.dispose();
    }
  }
  return out;
}
