import * as tf from '@tensorflow/tfjs-core';
import type { FeatureAttribution } from '../../core/result.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel, type ModelAdapter } from '../../models/model.js';
import { gradientAttribution } from '../internal/gradient-attribution.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel } from '../internal/options.js';

/**
 * Input × Gradient: x ⊙ ∂F_t/∂x.
 *
 * Cost: `batch` forward+backward rows.
 *
 * @see Shrikumar et al. (2016), https://arxiv.org/abs/1605.01713
 * @throws {CapabilityError} `capability_missing` when the model has no gradients.
 */
export class InputXGradient implements Attributor<AttributeOptions> {
  readonly id = 'input-x-gradient' as const;
  constructor(private readonly model: DifferentiableModel) {
    requireGradients(model, 'InputXGradient');
  }

  cost(shape: readonly number[]): number {
    return shape[0] ?? 1;
  }

  attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    return gradientAttribution(this.id, this.model, x, opts, 'InputXGradient.attribute', (g) => tf.mul(x, g));
  }
}

/** Input × Gradient's one declaration: catalogue entry, CLI flags and defaults. */
export const inputXGradient = defineMethod({
  id: 'input-x-gradient',
  title: 'Input × Gradient',
  family: 'gradient',
  requires: 'gradients',
  cost: 'batch',
  reference: 'Shrikumar et al. 2016, arXiv:1605.01713',
  stochastic: false,
  output: 'feature',
  options: {},
  create: (m: ModelAdapter) => new InputXGradient(gradientModel(m, 'InputXGradient')),
});
