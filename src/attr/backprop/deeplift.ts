import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import { FeatureAttribution } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { objectiveFor, targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireHooks, type ActivationRule, type ActivationSite, type DifferentiableModel, type HookedModel } from '../../models/model.js';
import { withTargets } from '../gradient/saliency.js';
import { completenessGap, evaluateObjective, rowSums } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';

/** Below this |z − z₀| the rescale multiplier falls back to the ordinary derivative (Captum's eps). */
const EPS = 1e-10;

/** f'(z) of an elementwise activation. The caller owns the result. */
function derivative(site: ActivationSite, z: tf.Tensor): tf.Tensor {
  if (site.activation === 'relu') return tf.step(z);
  return tf.grad((v: tf.Tensor) => site.apply(v))(z);
}

/**
 * DeepLIFT's Rescale rule on a batch that holds the inputs in its first half and their baselines in
 * its second: each activation's backward pass multiplies by (f(z) − f(z₀)) / (z − z₀), the same
 * multiplier for both halves (Captum's layout), or by f'(z) where |z − z₀| < 1e-10.
 */
export const RESCALE: ActivationRule = (z, site) => {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input]);
    return {
      value: site.apply(input),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const all = saved[0]!;
        const m = all.shape[0]! / 2;
        const zx = tf.slice(all, 0, m);
        const zb = tf.slice(all, m, m);
        const dz = tf.sub(zx, zb);
        const small = tf.less(tf.abs(dz), EPS);
        const ratio = tf.div(tf.sub(site.apply(zx), site.apply(zb)), tf.where(small, tf.onesLike(dz), dz));
        const multX = tf.where(small, derivative(site, zx), ratio);
        const multB = tf.where(small, derivative(site, zb), ratio);
        return tf.mul(dy as tf.Tensor, tf.concat([multX, multB], 0));
      },
    };
  });
  return f(z) as tf.Tensor;
};

/**
 * DeepLIFT with the Rescale rule (Captum `DeepLift`, `multiply_by_inputs=True`): multipliers are
 * back-propagated like gradients except that every elementwise activation uses
 * (f(z) − f(z₀)) / (z − z₀) for the input's and baseline's pre-activations z, z₀; attr = m ⊙ (x − b).
 * Max-pooling uses its ordinary gradient (first maximum), which is what Captum 0.8 computes on a
 * ReLU → MaxPool network (its MaxPool rule is shadowed; see the reference README), so completeness
 * is exact on ReLU MLPs and approximate through max-pooling. Softmax keeps its ordinary gradient.
 *
 * Cost: `2 × batch` forward+backward rows (inputs and baselines in one batch) plus `2 × batch`
 * forward rows for the completeness gap (`convergenceDelta`).
 * @see Shrikumar, Greenside, Kundaje (2017), https://arxiv.org/abs/1704.02685
 * @example
 * ```ts
 * using attr = await new DeepLift(model).attribute(x, { target: 'auto' });
 * ```
 */
export class DeepLift implements Attributor<AttributeOptions> {
  readonly id = 'deeplift' as const;
  private readonly ruled: DifferentiableModel;
  constructor(model: HookedModel) {
    requireHooks(model, 'DeepLift');
    this.ruled = model.withRules({ activation: RESCALE });
  }

  cost(shape: readonly number[]): number {
    return 4 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    const fn = 'DeepLift.attribute';
    const { model, run, target, batchSize, n } = await prepare(this.ruled, x, opts, { fn, cost: this.cost(x?.shape ?? []), exact: true });
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      const half = Math.max(1, Math.floor(batchSize / 2));
      const parts: tf.Tensor[] = [];
      try {
        for (const [s, e] of chunks(n, half)) {
          await run.checkpoint(2 * (e - s));
          const ids = new Int32Array(2 * (e - s));
          for (let i = 0; i < e - s; i++) ids[i] = ids[i + e - s] = s + i;
          const xs = tf.slice(x, s, e - s);
          const bs = tf.slice(base, s, e - s);
          const both = tf.concat([xs, bs], 0);
          let g: tf.Tensor;
          try {
            g = await model.gradients(both, objectiveFor(target, ids, fn), { rows: ids });
          } finally {
            both.dispose();
          }
          parts.push(tf.tidy(() => tf.mul(tf.slice(g, 0, e - s), tf.sub(xs, bs))));
          tf.dispose([g, xs, bs]);
        }
        const values = keep(parts.length === 1 ? parts[0]! : tf.concat(parts, 0));
        // the rule changes backward passes only: the ruled model's forward is the model's
        const [fx, fb] = [await evaluateObjective(model, x, target, run, batchSize, fn), await evaluateObjective(model, base, target, run, batchSize, fn)];
        const convergenceDelta = completenessGap(await rowSums(values), fx, fb);
        return new FeatureAttribution(this.id, values.clone(), withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
      } finally {
        if (parts.length > 1) tf.dispose(parts);
      }
    });
  }
}
