import * as tf from '@tensorflow/tfjs-core';
import { assertBatch } from '../core/assert.js';
import { Budget } from '../core/budget.js';
import { FeatureAttribution } from '../core/result.js';
import { Rng } from '../core/random.js';
import type { AttributeOptions, Attributor } from '../core/types.js';

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
    const values = tf.tensor(new Rng(opts?.seed ?? 0).fillNormal(new Float32Array(x.size)), x.shape);
    return new FeatureAttribution(this.id, values, run.finish());
  }
}
