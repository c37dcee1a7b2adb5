// Closed-form models whose attributions are known exactly.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../src/core/random.js';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import { fromLayersModel, type LayersModelAdapter } from '../src/models/tfjs/layers-model.js';
import type { DifferentiableModel, ModelAdapter } from '../src/models/model.js';
import { fromBatchFunction } from '../src/models/batch-function.js';

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

/**
 * A small functional CNN with a residual block and BatchNorm, seeded weights (no training):
 * input [8, 8, 2] → conv_a (3×3, 4) → bn → relu_a → conv_b (3×3, 4) ─┐
 *                 └──────────────── proj (1×1, 4) ─────────────────── add → relu_b → gap → head (Dense 3).
 * Hook names are the layer names. The caller disposes the adapter.
 */
export function residualNet(seed = 7, opts: { readonly biasFree?: boolean } = {}): LayersModelAdapter {
  const rng = new Rng(seed);
  const made: tf.Tensor[] = [];
  const w = (shape: number[], scale = 0.5, shift = 0) => {
    const v = rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), scale).map((u) => (opts.biasFree && shape.length === 1 && scale < 0.3 ? 0 : u + shift));
    const t = tf.tensor(v, shape);
    made.push(t);
    return t;
  };
  const input = tfl.input({ shape: [8, 8, 2], name: 'image' });
  const convA = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv_a', weights: [w([3, 3, 2, 4]), w([4], 0.1)] }).apply(input) as tfl.SymbolicTensor;
  const gamma = w([4], 0.3, 1);
  const variance = tf.tensor1d([0.5, 1.5, 0.8, 2.0]);
  const mean = tf.tensor1d([0.1, -0.2, 0.15, 0.05]);
  // bias-free: β = μ·γ/√(σ² + ε), so that the folded BatchNorm has no shift
  const beta = opts.biasFree ? tf.tidy(() => tf.div(tf.mul(mean, gamma), tf.sqrt(tf.add(variance, 1e-3)))) : tf.tensor1d([0.1, 0.3, -0.2, 0.05]);
  made.push(variance, mean, beta);
  const bn = tfl.layers.batchNormalization({ name: 'bn', weights: [gamma, beta, mean, variance] }).apply(convA) as tfl.SymbolicTensor;
  const reluA = tfl.layers.activation({ activation: 'relu', name: 'relu_a' }).apply(bn) as tfl.SymbolicTensor;
  const convB = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv_b', weights: [w([3, 3, 4, 4]), w([4], 0.1)] }).apply(reluA) as tfl.SymbolicTensor;
  const proj = tfl.layers.conv2d({ filters: 4, kernelSize: 1, name: 'proj', weights: [w([1, 1, 2, 4]), w([4], 0.1)] }).apply(input) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: 'add' }).apply([convB, proj]) as tfl.SymbolicTensor;
  const reluB = tfl.layers.reLU({ name: 'relu_b' }).apply(sum) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(reluB) as tfl.SymbolicTensor;
  const head = tfl.layers.dense({ units: 3, name: 'head', weights: [w([4, 3]), w([3], 0.1)] }).apply(gap) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: head, name: 'residual' });
  tf.dispose(made);
  return fromLayersModel(model);
}

/** 1 on the pixels (all channels) of rows [r0, r1) × cols [c0, c1) of an H×W×C image, flat. */
export function regionMask(h: number, w: number, c: number, r0: number, r1: number, c0: number, c1: number): number[] {
  const m: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) m.push(y >= r0 && y < r1 && x >= c0 && x < c1 ? 1 : 0);
  return m;
}

/**
 * A black box (async function of plain arrays) over [n, 32, 32, C] images that reads only channel 0
 * of rows 8–15 × cols 16–23: `score(sum)` of that region's values (`square` squares them first).
 */
export const regionBlackBox = (score: (sum: number) => number[] = (s) => [s / 64], square = false): ModelAdapter =>
  fromBatchFunction(async ({ data, shape }) => {
    const [n, h, w, c] = shape as [number, number, number, number];
    return Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let y = 8; y < 16; y++) for (let x = 16; x < 24; x++) s += square ? data[((i * h + y) * w + x) * c]! ** 2 : data[((i * h + y) * w + x) * c]!;
      return score(s);
    });
  });
