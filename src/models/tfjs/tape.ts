import * as tf from '@tensorflow/tfjs-core';

/**
 * `tf.tidy(() => tf.grad(f)(x))` that leaves `tf.memory().numTensors` as it found it when `f` or the
 * backward pass throws. TF.js keeps the tensors its gradient tape saved for the backward pass out
 * of every tidy scope and frees them only when the backward pass completes; after a failure they
 * stay on the tape, so they are released here before the error is rethrown. The caller owns the
 * returned tensor.
 */
export function gradOrRelease(f: (v: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  try {
    return tf.tidy(() => tf.grad(f)(x));
  } catch (e) {
    releaseFailedTape();
    throw e;
  }
}

/** Frees what a failed outermost `tf.grad` left on TF.js's gradient tape (no-op inside a nested one). */
export function releaseFailedTape(): void {
  const state = tf.engine().state;
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
  state.activeTape = [];
}
