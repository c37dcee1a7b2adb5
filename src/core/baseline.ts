import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from './errors.js';
import type { Baseline } from './types.js';

/**
 * The baseline broadcast to `x`'s shape. The caller owns the returned tensor.
 * Accepts `'zeros'`, a scalar, a tensor of one row (`[...features]` or `[1, ...features]`), one
 * tensor per row (`[batch, ...features]`), or a function of `x` returning any of those.
 */
export function resolveBaseline(baselines: Baseline | undefined, x: tf.Tensor, fn: string): tf.Tensor {
  if (baselines === undefined || baselines === 'zeros') return tf.zerosLike(x);
  if (typeof baselines === 'number') {
    if (!Number.isFinite(baselines)) {
      throw new InvalidArgumentError(`Argument 'baselines' passed to '${fn}' must be finite, got ${baselines}`, {
        arg: 'baselines',
        fn,
      });
    }
    return tf.fill(x.shape, baselines, x.dtype);
  }
  if (typeof baselines === 'function') {
    const b = baselines(x);
    try {
      return broadcastBaseline(b, x, fn);
    } finally {
      b.dispose();
    }
  }
  if (baselines instanceof tf.Tensor) return broadcastBaseline(baselines, x, fn);
  throw new InvalidArgumentError(`Argument 'baselines' passed to '${fn}' must be 'zeros', a number, a tensor or a function, got ${JSON.stringify(baselines)}`, {
    arg: 'baselines',
    fn,
  });
}

function broadcastBaseline(b: tf.Tensor, x: tf.Tensor, fn: string): tf.Tensor {
  const feat = x.shape.slice(1);
  const same = (a: readonly number[], c: readonly number[]) => a.length === c.length && a.every((d, i) => d === c[i]);
  return tf.tidy(() => {
    if (same(b.shape, x.shape)) return tf.cast(b, x.dtype).clone();
    if (same(b.shape, feat) || (b.rank === x.rank && b.shape[0] === 1 && same(b.shape.slice(1), feat))) {
      return tf.broadcastTo(tf.reshape(tf.cast(b, x.dtype), [1, ...feat]), x.shape);
    }
    if (b.rank === 0) return tf.broadcastTo(tf.cast(b, x.dtype), x.shape);
    throw new ShapeMismatchError(
      `Argument 'baselines' passed to '${fn}' must broadcast to the input [${x.shape.join(', ')}]: give one row [${feat.join(', ')}], [1, ${feat.join(', ')}] or one per row [${x.shape.join(', ')}], got [${b.shape.join(', ')}]`,
      { arg: 'baselines', fn, expected: x.shape, actual: b.shape },
    );
  });
}

/**
 * A baseline distribution `[samples, ...features]` for methods that draw baselines (GradientSHAP,
 * Expected Gradients). A single baseline is a distribution of one. The caller owns the result.
 */
export function resolveBaselineDistribution(baselines: Baseline | undefined, x: tf.Tensor, fn: string): tf.Tensor {
  const feat = x.shape.slice(1);
  if (baselines instanceof tf.Tensor && baselines.rank === x.rank && baselines.shape.slice(1).every((d, i) => d === feat[i])) {
    return tf.cast(baselines, x.dtype).clone();
  }
  return tf.tidy(() => {
    const row = tf.slice(x, 0, 1);
    const b = resolveBaseline(baselines, row, fn);
    return b;
  });
}
