import * as tf from '@tensorflow/tfjs-core';
import type { FeatureAttribution } from '../../core/result.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireHooks, type ActivationRule, type DifferentiableModel, type HookedModel, type ModelAdapter } from '../../models/model.js';
import { gradientAttribution } from '../internal/gradient-attribution.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';

/** A ReLU whose backward pass is `backward(dy, z)`; other activations keep their own gradient. */
export function reluWithBackward(backward: (dy: tf.Tensor, z: tf.Tensor) => tf.Tensor): ActivationRule {
  return (z, site) => {
    if (site.activation !== 'relu') return site.apply(z);
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const input = args[0] as tf.Tensor;
      (args[1] as tf.GradSaveFunc)([input]);
      return { value: tf.relu(input), gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => backward(dy as tf.Tensor, saved[0]!) };
    });
    return f(z) as tf.Tensor;
  };
}

/** Guided backpropagation: g_in = max(g_out, 0) · 1[z > 0] at every ReLU. */
export const GUIDED_RELU = reluWithBackward((dy, z) => tf.mul(tf.relu(dy), tf.step(z)));
/** Deconvolution: g_in = max(g_out, 0) at every ReLU, ignoring the forward sign. */
export const DECONV_RELU = reluWithBackward((dy) => tf.relu(dy));

/** Shared body: the gradient of F_t with every ReLU's backward pass replaced by a rule. */
abstract class ModifiedGradient implements Attributor<AttributeOptions> {
  abstract readonly id: 'guided-backprop' | 'deconvolution';
  protected readonly ruled: DifferentiableModel;
  constructor(
    model: HookedModel,
    rule: ActivationRule,
    private readonly method: string,
  ) {
    requireHooks(model, method);
    this.ruled = model.withRules({ activation: rule });
  }

  cost(shape: readonly number[]): number {
    return shape[0] ?? 1;
  }

  attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    return gradientAttribution(this.id, this.ruled, x, opts, `${this.method}.attribute`);
  }
}

/**
 * Guided Backpropagation (Captum `GuidedBackprop`): the gradient of F_t where each ReLU passes back
 * only positive gradients at positive inputs. Needs a hookable model (a TF.js layers model).
 *
 * Cost: `batch` forward+backward rows.
 * @see Springenberg et al. (2015), https://arxiv.org/abs/1412.6806
 */
export class GuidedBackprop extends ModifiedGradient {
  readonly id = 'guided-backprop' as const;
  constructor(model: HookedModel) {
    super(model, GUIDED_RELU, 'GuidedBackprop');
  }
}

/**
 * Deconvolution (Captum `Deconvolution`): the gradient of F_t where each ReLU passes back the
 * positive part of its incoming gradient, whatever its input's sign.
 *
 * Cost: `batch` forward+backward rows.
 * @see Zeiler, Fergus (2014), https://arxiv.org/abs/1311.2901
 */
export class Deconvolution extends ModifiedGradient {
  readonly id = 'deconvolution' as const;
  constructor(model: HookedModel) {
    super(model, DECONV_RELU, 'Deconvolution');
  }
}

/** Guided Backprop's one declaration: catalogue entry, CLI flags and defaults. */
export const guidedBackprop = defineMethod({
  id: 'guided-backprop',
  rules: true,
  title: 'Guided Backprop',
  family: 'backprop',
  requires: 'hooks',
  cost: 'batch',
  reference: 'Springenberg et al. 2015, arXiv:1412.6806',
  stochastic: false,
  output: 'feature',
  options: {},
  create: (m: ModelAdapter) => new GuidedBackprop(hookedModel(m, 'GuidedBackprop')),
});

/** Deconvolution's one declaration: catalogue entry, CLI flags and defaults. */
export const deconvolution = defineMethod({
  id: 'deconvolution',
  rules: true,
  title: 'Deconvolution',
  family: 'backprop',
  requires: 'hooks',
  cost: 'batch',
  reference: 'Zeiler & Fergus 2014, arXiv:1311.2901',
  stochastic: false,
  output: 'feature',
  options: {},
  create: (m: ModelAdapter) => new Deconvolution(hookedModel(m, 'Deconvolution')),
});
