import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertHostAllocation, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { solveSpd } from '../../core/linalg.js';
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

/** Coalitions evaluated per row: all 2^M − 2 proper ones when affordable, else `samples`. */
export function coalitionCount(m: number, samples: number): number {
  if (m <= 1) return 0;
  const proper = m >= 31 ? Infinity : 2 ** m - 2;
  return Math.min(proper, samples);
}

/** Binary coalitions (1 = present) and their regression weights. */
function drawCoalitions(m: number, k: number, rng: Rng): { z: Uint8Array; w: Float64Array } {
  const z = new Uint8Array(k * m);
  const w = new Float64Array(k);
  if (m < 31 && k === 2 ** m - 2) {
    for (let s = 1; s < 2 ** m - 1; s++) {
      let size = 0;
      for (let g = 0; g < m; g++) if (s & (1 << g)) (z[(s - 1) * m + g] = 1), size++;
      w[s - 1] = (m - 1) / (binom(m, size) * size * (m - size));
    }
    return { z, w };
  }
  // p(size) ∝ (M−1)/(size·(M−size)); each drawn coalition then has weight 1 (importance weights cancel)
  const p = new Float64Array(m - 1);
  let total = 0;
  for (let s = 1; s < m; s++) total += p[s - 1] = (m - 1) / (s * (m - s));
  for (let j = 0; j < k; j += 2) {
    let u = rng.next() * total;
    let size = 1;
    while (size < m - 1 && u >= p[size - 1]!) u -= p[size++ - 1]!;
    const perm = rng.permutation(m);
    for (let q = 0; q < size; q++) z[j * m + perm[q]!] = 1;
    w[j] = 1;
    if (j + 1 < k) {
      for (let g = 0; g < m; g++) z[(j + 1) * m + g] = 1 - z[j * m + g]!;
      w[j + 1] = 1;
    }
  }
  return { z, w };
}

function binom(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/**
 * min Σ_i w_i (v_i − f(b) − z_i·φ)² s.t. Σφ = f(x) − f(b): eliminate φ_M = Δ − Σ_{g<M} φ_g and solve
 * the (M−1)-dimensional normal equations.
 */
function constrainedFit(z: Uint8Array, v: Float32Array, w: Float64Array, m: number, fx: number, fb: number): Float64Array {
  const delta = fx - fb;
  if (m === 1) return Float64Array.of(delta);
  const d = m - 1;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < w.length; i++) {
    const zl = z[i * m + d]!;
    const y = v[i]! - fb - zl * delta;
    for (let g = 0; g < d; g++) row[g] = z[i * m + g]! - zl;
    const wi = w[i]!;
    for (let g = 0; g < d; g++) {
      b[g]! += wi * row[g]! * y;
      for (let h = 0; h <= g; h++) a[g * d + h]! += wi * row[g]! * row[h]!;
    }
  }
  for (let g = 0; g < d; g++) for (let h = 0; h < g; h++) a[h * d + g] = a[g * d + h]!;
  const sol = solveSpd(a, b, d);
  const phi = new Float64Array(m);
  let rest = delta;
  for (let g = 0; g < d; g++) (phi[g] = sol[g]!), (rest -= sol[g]!);
  phi[d] = rest;
  return phi;
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
