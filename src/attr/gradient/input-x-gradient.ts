import * as tf from '@tensorflow/tfjs-core';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel } from '../../models/model.js';
import { gradientsInBatches } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel } from '../internal/options.js';
import type { ModelAdapter } from '../../models/model.js';

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

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    const fn = 'InputXGradient.attribute';
    const { model, run, target, batchSize } = await prepare(this.model, x, opts, { fn, cost: x.shape?.[0] ?? 0, exact: true });
    const g = await gradientsInBatches(model, x, target, run, batchSize, fn);
    const values = tf.tidy(() => tf.mul(x, g));
    g.dispose();
    return new FeatureAttribution(this.id, values, withTargets(run.finish(), targetList(target)));
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
