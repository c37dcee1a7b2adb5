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

  async attribute(x: tf.Tensor, opts: SaliencyOptions): Promise<FeatureAttribution> {
    const fn = 'Saliency.attribute';
    const { model, run, target, batchSize } = await prepare(this.model, x, opts, { fn, cost: x.shape?.[0] ?? 0, exact: true });
    const g = await gradientsInBatches(model, x, target, run, batchSize, fn);
    const values = (opts.abs ?? saliency.defaults.abs) ? tf.tidy(() => tf.abs(g)) : g;
    if (values !== g) g.dispose();
    return new FeatureAttribution(this.id, values, withTargets(run.finish(), targetList(target)));
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
