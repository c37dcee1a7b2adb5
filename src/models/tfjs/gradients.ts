import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle ships no op gradients; tfjs-layers registers all of them in TF.js's shared
// gradient registry when it loads (so does the umbrella @tensorflow/tfjs). Without this import
// tf.grad fails with "gradient function not found for Sum" in a program that never loads tfjs-layers.
import '@tensorflow/tfjs-layers';
import { BackendError, isAttributionError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import { gradOrRelease } from './tape.js';

/**
 * ∂ Σ_rows objective(f(x)) / ∂x, i.e. each row's gradient of its own scalar (rows are independent).
 * The caller owns the returned tensor.
 */
export function gradientOf(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, objective: Objective): tf.Tensor {
  const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  try {
    return gradOrRelease((v: tf.Tensor) => tf.sum(objective(f(v))), input);
  } catch (e) {
    if (isAttributionError(e)) throw e;
    throw new BackendError(`Gradient computation failed on backend '${tf.getBackend()}': ${(e as Error).message}`, { backend: tf.getBackend() }, e);
  } finally {
    if (input !== x) input.dispose();
  }
}
