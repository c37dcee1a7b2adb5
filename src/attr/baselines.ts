import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';
import { Rng } from '../core/random.js';

/**
 * Image baselines for perturbation and path methods ("what a removed pixel becomes"), as `Baseline`
 * functions of the input: a Gaussian blur of the image, seeded noise, or a constant. Pass them as
 * `baselines: blurBaseline(5)`; the CLI spells them `--baseline blur:5`, `noise:0.1`, a number.
 */

/**
 * The input blurred by a Gaussian of standard deviation `sigma` pixels (kernel ±3σ, mirrored edges),
 * per channel. Inputs [batch, H, W, C] or [batch, H, W].
 */
export function blurBaseline(sigma: number): (x: tf.Tensor) => tf.Tensor {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new InvalidArgumentError(`Argument 'sigma' passed to 'blurBaseline' must be a positive number of pixels, got ${sigma}`, { arg: 'sigma', value: sigma });
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const weights = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = weights.reduce((a, b) => a + b, 0);
  const kernel = weights.map((v) => v / total);
  return (x: tf.Tensor) =>
    tf.tidy(() => {
      const img = imageOf(x, 'blurBaseline');
      const [, h, w, c] = img.shape;
      const r = Math.min(radius, h - 1, w - 1);
      const k = r === radius ? kernel : kernel.slice(radius - r, radius + r + 1);
      const norm = k.reduce((a, b) => a + b, 0);
      const kk = k.map((v) => v / norm);
      const padded = r > 0 ? tf.mirrorPad(img, [[0, 0], [r, r], [r, r], [0, 0]], 'reflect') : img;
      const col = tf.tile(tf.reshape(tf.tensor1d(kk), [kk.length, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
      const row = tf.tile(tf.reshape(tf.tensor1d(kk), [1, kk.length, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
      const blurred = tf.depthwiseConv2d(tf.depthwiseConv2d(padded, col, 1, 'valid'), row, 1, 'valid');
      return x.rank === 3 ? tf.reshape(blurred, x.shape) : blurred;
    });
}

/**
 * Seeded Gaussian noise around `mean` with standard deviation `std` (clipped to [`min`, `max`] when
 * given): a different draw per element, the same for every call with the same seed and shape.
 */
export function noiseBaseline(opts: { readonly std: number; readonly mean?: number; readonly seed?: number; readonly min?: number; readonly max?: number }): (x: tf.Tensor) => tf.Tensor {
  if (!(opts.std >= 0) || !Number.isFinite(opts.std)) throw new InvalidArgumentError(`Option 'std' passed to 'noiseBaseline' must be a non-negative number, got ${opts.std}`, { arg: 'std', value: opts.std });
  return (x: tf.Tensor) => {
    const rng = new Rng(opts.seed ?? 0);
    const v = rng.fillNormal(new Float32Array(x.size), opts.std);
    const lo = opts.min ?? -Infinity;
    const hi = opts.max ?? Infinity;
    for (let i = 0; i < v.length; i++) v[i] = Math.min(hi, Math.max(lo, v[i]! + (opts.mean ?? 0)));
    return tf.tensor(v, x.shape);
  };
}

function imageOf(x: tf.Tensor, fn: string): tf.Tensor4D {
  if (x.rank === 4) return x as tf.Tensor4D;
  if (x.rank === 3) return tf.expandDims(x, 3) as tf.Tensor4D;
  throw new ShapeMismatchError(`Argument 'x' passed to '${fn}' must be images [batch, H, W, C] or [batch, H, W], got [${x.shape.join(', ')}]`, { arg: 'x', fn, actual: x.shape });
}
