// Closed-form models whose attributions are known exactly.
import * as tf from '@tensorflow/tfjs-core';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import type { DifferentiableModel } from '../src/models/model.js';

/** f(x) = x · w, one output. */
export const linear = (w: number[]): DifferentiableModel =>
  fromFunction((x) => tf.matMul(tf.reshape(x, [x.shape[0]!, -1]), tf.tensor2d(w, [w.length, 1])), { name: 'linear' });

/** Two outputs: [x·w, −x·w]. */
export const linear2 = (w: number[]): DifferentiableModel =>
  fromFunction(
    (x) => {
      const y = tf.matMul(tf.reshape(x, [x.shape[0]!, -1]), tf.tensor2d(w, [w.length, 1]));
      return tf.concat([y, tf.neg(y)], 1);
    },
    { name: 'linear2' },
  );

/**
 * Additive model f(x) = Σ_i f_i(x_i) with f_i(v) = a_i·v² + b_i·sin(v): its Shapley values and
 * window-1 occlusion are f_i(x_i) − f_i(baseline_i).
 */
export const additive = (a: number[], b: number[]): DifferentiableModel =>
  fromFunction(
    (x) => {
      const at = tf.tensor1d(a);
      const bt = tf.tensor1d(b);
      return tf.expandDims(tf.sum(tf.add(tf.mul(at, tf.square(x)), tf.mul(bt, tf.sin(x))), 1), 1);
    },
    { name: 'additive' },
  );

export const additiveTerm = (a: number[], b: number[], i: number, v: number): number => a[i]! * v * v + b[i]! * Math.sin(v);

/** Smooth non-linear model with interactions: f(x) = [tanh(x0·x1) + x2², softplus(x3 − x0)]. */
export const smoothFn = (x: tf.Tensor): tf.Tensor => {
  const c = (i: number) => tf.slice(x, [0, i], [-1, 1]);
  return tf.concat([tf.add(tf.tanh(tf.mul(c(0), c(1))), tf.square(c(2))), tf.softplus(tf.sub(c(3), c(0)))], 1);
};
export const smooth = (): DifferentiableModel => fromFunction(smoothFn, { name: 'smooth', outputShape: [null, 2] });

/** A symmetric model in x0, x1 with a dummy feature x2: f = x0·x1 + x0 + x1. */
export const symmetric = (): DifferentiableModel =>
  fromFunction(
    (x) => {
      const c = (i: number) => tf.slice(x, [0, i], [-1, 1]);
      return tf.add(tf.mul(c(0), c(1)), tf.add(c(0), c(1)));
    },
    { name: 'symmetric' },
  );
