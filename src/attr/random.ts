import * as tf from '@tensorflow/tfjs-core';
import { assertBatch } from '../core/assert.js';
import { Budget } from '../core/budget.js';
import { FeatureAttribution } from '../core/result.js';
import { Rng } from '../core/random.js';
import type { AttributeOptions, Attributor } from '../core/types.js';
import { defineMethod } from '../core/method.js';
import { seedOption } from './internal/options.js';

/**
 * Random attribution: seeded N(0, 1) noise of the input's shape. It looks at neither the model nor the
 * input, which makes it the control every evaluation table is read against: a method that does not
 * beat it measures nothing.
 *
 * Cost: no model evaluations.
 */
export class RandomAttribution implements Attributor<AttributeOptions> {
  readonly id = 'random' as const;

  cost(): number {
    return 0;
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    const fn = 'RandomAttribution.attribute';
    assertBatch(x, 'x', fn);
    const run = Budget.start(opts ?? { target: 0 }, { total: 0, fn, exact: true });
    const values = tf.tensor(new Rng(opts?.seed ?? randomAttribution.defaults.seed).fillNormal(new Float32Array(x.size)), x.shape);
    return new FeatureAttribution(this.id, values, run.finish());
  }
}

/** The random control's one declaration: catalogue entry, CLI flags and defaults. */
export const randomAttribution = defineMethod({
  id: 'random',
  title: 'Random (control)',
  family: 'control',
  requires: 'forward',
  cost: '0',
  reference: 'the baseline of every evaluation (Adebayo et al. 2018; Hooker et al. 2019)',
  stochastic: true,
  output: 'feature',
  options: { ...seedOption },
  create: () => new RandomAttribution(),
});
