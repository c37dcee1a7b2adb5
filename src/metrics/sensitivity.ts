import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertNonNegative, assertPositiveInt } from '../core/assert.js';
import { Rng } from '../core/random.js';
import type { AttributeOptions, Attributor } from '../core/types.js';
import { AbortedError } from '../core/errors.js';

export interface SensitivityOptions extends AttributeOptions {
  /** Perturbed copies per input (Captum `n_perturb_samples`). Default 10. */
  readonly perturbations?: number;
  /** Half-width of the uniform L∞ perturbation (Captum `perturb_radius`). Default 0.02. */
  readonly radius?: number;
  /**
   * Your own perturbation (Captum `perturb_func`): the perturbed batch for sample `s` (the caller of
   * this function owns what it returns). Default: x + U(−radius, radius), seeded.
   */
  readonly perturb?: (x: tf.Tensor, sample: number, rng: Rng) => tf.Tensor;
}

/**
 * Sensitivity-max (Yeh et al. 2019, Captum semantics): the largest relative change of the explanation
 * under small input perturbations, max over x̃ = x + U(−r, r) of ‖a(x̃) − a(x)‖ / ‖a(x)‖ (Frobenius norm
 * per row). Lower is better; a method whose explanation ignores the input scores 0.
 *
 * Cost: `perturbations + 1` calls of the method on the batch.
 */
export async function sensitivityMax(method: Attributor<AttributeOptions>, x: tf.Tensor, opts: SensitivityOptions): Promise<Float64Array> {
  const fn = 'sensitivityMax';
  assertBatch(x, 'x', fn);
  const count = opts.perturbations ?? 10;
  const radius = opts.radius ?? 0.02;
  assertPositiveInt(count, 'perturbations', fn);
  assertNonNegative(radius, 'radius', fn);
  const n = x.shape[0]!;
  const rng = new Rng(opts.seed ?? 0);
  const { perturbations: _p, radius: _r, perturb, ...methodOpts } = opts;
  const base = await method.attribute(x, methodOpts as AttributeOptions);
  const a0 = await base.values.data();
  base.dispose();
  const e = a0.length / n;
  const norms = Float64Array.from({ length: n }, (_, i) => Math.hypot(...Array.from(a0.subarray(i * e, (i + 1) * e))));
  const worst = new Float64Array(n);
  for (let s = 0; s < count; s++) {
    if (opts.signal?.aborted) throw new AbortedError(fn, opts.signal.reason);
    let xt: tf.Tensor;
    if (perturb) xt = perturb(x, s, rng);
    else {
      const noise = new Float32Array(x.size);
      for (let k = 0; k < noise.length; k++) noise[k] = (rng.next() * 2 - 1) * radius;
      xt = tf.tidy(() => tf.add(x, tf.tensor(noise, x.shape)));
    }
    const res = await method.attribute(xt, { ...(methodOpts as AttributeOptions), seed: rng.nextUint32() });
    xt.dispose();
    const at = await res.values.data();
    res.dispose();
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let k = i * e; k < (i + 1) * e; k++) d += (at[k]! - a0[k]!) ** 2;
      const rel = norms[i]! === 0 ? 0 : Math.sqrt(d) / norms[i]!;
      worst[i] = Math.max(worst[i]!, rel);
    }
  }
  return worst;
}
