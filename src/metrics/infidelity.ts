import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt, assertSameShape } from '../core/assert.js';
import { resolveBaseline } from '../core/baseline.js';
import { Rng } from '../core/random.js';
import type { Baseline, RunControl, Target } from '../core/types.js';
import type { ModelAdapter } from '../models/model.js';
import { prepare } from '../attr/internal/prepare.js';
import { evaluateObjective } from '../attr/internal/evaluate.js';
import { withScope } from '../core/scope.js';

/**
 * A perturbation of one batch for sample `sample` (0 ≤ sample < samples): returns x̃ = x − I (the caller
 * owns it). Captum's `perturb_func` returns (I, x − I); the noise I is recovered here as x − x̃.
 */
export type InfidelityPerturbation = (x: tf.Tensor, sample: number, rng: Rng) => tf.Tensor;

export interface InfidelityOptions extends RunControl {
  readonly target: Target;
  /** Perturbed copies per input (Captum `n_perturb_samples`). Default 10. */
  readonly samples?: number;
  /** Default: Gaussian noise, x̃ = x − ε with ε ~ N(0, noiseStd²). */
  readonly perturb?: InfidelityPerturbation;
  /** Standard deviation of the default perturbation. Default 0.003 (Captum's docs example). */
  readonly noiseStd?: number;
  /**
   * For attributions already multiplied by (x − b) (IG, Input×Gradient, DeepLIFT): the perturbation in
   * the dot product is (x − x̃)/(x − b), as Captum's `infidelity_perturb_func_decorator(True)`. Default false.
   */
  readonly multiplyByInputs?: boolean;
  readonly baselines?: Baseline;
  /** Scale the attributions by the least-squares β first (Captum `normalize`). Default false. */
  readonly normalize?: boolean;
}

/**
 * Infidelity (Yeh et al. 2019, Captum semantics): E_I[(Σ I ⊙ a − (F(x) − F(x − I)))²], per row; with
 * `normalize`, a is first scaled by β = E[(Σ I⊙a)(F(x) − F(x̃))] / E[(Σ I⊙a)²]. Lower is better.
 *
 * Cost: `batch × (samples + 1)` forward rows.
 * @see Yeh et al. (2019), https://arxiv.org/abs/1901.09392
 */
export async function infidelity(model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, opts: InfidelityOptions): Promise<Float64Array> {
  const fn = 'infidelity';
  assertBatch(x, 'x', fn);
  assertSameShape(attribution, x, fn);
  const samples = opts.samples ?? 10;
  assertPositiveInt(samples, 'samples', fn);
  const { run, target, batchSize, n } = await prepare(model, x, opts, { fn, cost: x.shape[0]! * (samples + 1), exact: true });
  const rng = new Rng(opts.seed ?? 0);
  const std = opts.noiseStd ?? 0.003;
  const perturb: InfidelityPerturbation = opts.perturb ?? ((v, _s, r) => tf.tidy(() => tf.sub(v, tf.tensor(r.fillNormal(new Float32Array(v.size), std), v.shape))));
  return withScope(async (keep) => {
    const fx = await evaluateObjective(model, x, target, run, batchSize, fn);
    const xd = await x.data();
    const ad = await attribution.data();
    const bd = opts.multiplyByInputs ? await keep(resolveBaseline(opts.baselines, x, fn)).data() : undefined;
    const e = xd.length / n;
    const dots = Array.from({ length: n }, () => new Float64Array(samples));
    const diffs = Array.from({ length: n }, () => new Float64Array(samples));
    for (let s = 0; s < samples; s++) {
      const xt = keep(perturb(x, s, rng));
      const ft = await evaluateObjective(model, xt, target, run, batchSize, fn);
      const td = await xt.data();
      for (let i = 0; i < n; i++) {
        let dot = 0;
        for (let k = i * e; k < (i + 1) * e; k++) {
          let p = xd[k]! - td[k]!;
          if (bd) p = xd[k] === bd[k] ? 0 : p / (xd[k]! - bd[k]!);
          dot += p * ad[k]!;
        }
        dots[i]![s] = dot;
        diffs[i]![s] = fx[i]! - ft[i]!;
      }
      xt.dispose();
    }
    run.finish();
    return Float64Array.from({ length: n }, (_, i) => {
      let beta = 1;
      if (opts.normalize) {
        let num = 0;
        let den = 0;
        for (let s = 0; s < samples; s++) (num += dots[i]![s]! * diffs[i]![s]!), (den += dots[i]![s]! ** 2);
        beta = den === 0 ? 0 : num / den;
      }
      let acc = 0;
      for (let s = 0; s < samples; s++) acc += (beta * dots[i]![s]! - diffs[i]![s]!) ** 2;
      return acc / samples;
    });
  });
}
