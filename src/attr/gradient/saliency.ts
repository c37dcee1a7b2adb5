import * as tf from '@tensorflow/tfjs-core';
import type { FeatureAttribution } from '../../core/result.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel, type ModelAdapter } from '../../models/model.js';
import { gradientAttribution } from '../internal/gradient-attribution.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel } from '../internal/options.js';

export interface SaliencyOptions extends AttributeOptions {
  /** Absolute value of the gradient (Captum's default). Default true. */
  readonly abs?: boolean;
}

/**
 * Saliency: the gradient ∂F_t/∂x, by default its absolute value.
 *
 * Cost: `batch` forward+backward rows.
 *
 * @see Simonyan, Vedaldi, Zisserman (2013), https://arxiv.org/abs/1312.6034
 * @throws {CapabilityError} `capability_missing` when the model has no gradients.
 * @example
 * ```ts
 * using attr = await new Saliency(fromLayersModel(net)).attribute(x, { target: 'auto' });
 * ```
 */
export class Saliency implements Attributor<SaliencyOptions> {
  readonly id = 'saliency' as const;
  constructor(private readonly model: DifferentiableModel) {
    requireGradients(model, 'Saliency');
  }

  cost(shape: readonly number[]): number {
    return shape[0] ?? 1;
  }

  attribute(x: tf.Tensor, opts: SaliencyOptions): Promise<FeatureAttribution> {
    return gradientAttribution(this.id, this.model, x, opts, 'Saliency.attribute', (opts?.abs ?? saliency.defaults.abs) ? (g) => tf.abs(g) : undefined);
  }
}

/** Saliency's one declaration: catalogue entry, CLI flags and defaults. */
export const saliency = defineMethod({
  id: 'saliency',
  title: 'Saliency',
  family: 'gradient',
  requires: 'gradients',
  cost: 'batch',
  reference: 'Simonyan et al. 2013, arXiv:1312.6034',
  stochastic: false,
  output: 'feature',
  options: { abs: { type: 'bool', help: 'absolute value of the gradient', default: true } },
  create: (m: ModelAdapter) => new Saliency(gradientModel(m, 'Saliency')),
});
