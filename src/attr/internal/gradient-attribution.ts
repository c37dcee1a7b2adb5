import * as tf from '@tensorflow/tfjs-core';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import type { DifferentiableModel } from '../../models/model.js';
import { gradientsInBatches } from './evaluate.js';
import { prepare } from './prepare.js';

/**
 * The body of the one-pass gradient methods (Saliency, Input × Gradient, Guided Backprop,
 * Deconvolution): ∂F_t/∂x in batches (`batch` rows), then `map` of the gradient when given. The
 * caller owns the result.
 */
export async function gradientAttribution(
  id: MethodId,
  unbound: DifferentiableModel,
  x: tf.Tensor,
  opts: AttributeOptions,
  fn: string,
  map?: (g: tf.Tensor) => tf.Tensor,
): Promise<FeatureAttribution> {
  const { model, run, target, batchSize } = await prepare(unbound, x, opts, { fn, cost: x?.shape?.[0] ?? 0, exact: true });
  const g = await gradientsInBatches(model, x, target, run, batchSize, fn);
  const values = map ? tf.tidy(() => map(g)) : g;
  if (values !== g) g.dispose();
  return new FeatureAttribution(id, values, withTargets(run.finish(), targetList(target)));
}
