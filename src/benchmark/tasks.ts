import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../core/random.js';
import { fromLayersModel, type LayersModelAdapter } from '../models/tfjs/layers-model.js';
import { gridMask, tokenMask, type FeatureMask } from '../attr/masks.js';

/**
 * Generated tasks with known relevant features (in the spirit of ChaosMining and DiFull): each makes
 * data at a noise level, a small TF.js model trained on it deterministically (or built with the
 * answer wired in), test rows, and for each test row the elements that matter.
 */
export interface BenchmarkTask {
  readonly id: string;
  readonly kind: 'tabular' | 'image' | 'text';
  readonly description: string;
  /** Noise levels (the task's own unit, named in `noiseLabel`); DiFull has one. */
  readonly noise: readonly number[];
  readonly noiseLabel: string;
  /** Feature groups for perturbation methods. */
  readonly mask: FeatureMask;
  build(noise: number, size: BenchmarkSize, seed: number): Promise<BuiltTask>;
}

export interface BuiltTask {
  readonly model: LayersModelAdapter;
  /** Test rows, [n, ...rowShape]. */
  readonly x: tf.Tensor;
  /** The output each row is explained for. */
  readonly target: number[];
  /** 1 on the elements that matter, per row, flat. */
  readonly relevant: Uint8Array;
  /** Held-out quality of the model: accuracy, or R² for regression. */
  readonly quality: number;
  /** Elements per scored unit: a text attribution is summed over each token's one-hot dims before scoring. */
  readonly unit?: number;
}

export interface BenchmarkSize {
  readonly rows: number;
  readonly train: number;
  readonly epochs: number;
}

const dense = (units: number, opts: Record<string, unknown> = {}) => tfl.layers.dense({ units, kernelInitializer: tfl.initializers.glorotUniform({ seed: 17 + units }), ...opts });

async function fit(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, epochs: number, loss: 'mse' | 'xent'): Promise<void> {
  model.compile({ optimizer: tf.train.adam(0.01), loss: loss === 'mse' ? 'meanSquaredError' : (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  await model.fit(x, y, { epochs, batchSize: 64, shuffle: false, verbose: 0 });
}

async function accuracy(model: tfl.LayersModel, x: tf.Tensor, labels: readonly number[]): Promise<number> {
  const p = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1));
  const d = await p.data();
  p.dispose();
  return labels.filter((l, i) => d[i] === l).length / labels.length;
}

const oneHot = (labels: readonly number[], k: number): tf.Tensor => {
  const d = new Float32Array(labels.length * k);
  labels.forEach((l, i) => (d[i * k + l] = 1));
  return tf.tensor2d(d, [labels.length, k]);
};

/** Tabular (ChaosMining-style): y = x₀x₁ + sin(2x₂) + x₃² − 1 + ε over 20 features, 16 of them noise; noise = std of ε in training. */
export const TABULAR_TASK: BenchmarkTask = {
  id: 'tabular-symbolic',
  kind: 'tabular',
  description: 'regression on 20 N(0, 1) features; y = x0·x1 + sin(2·x2) + x3² − 1 (+ label noise); 4 relevant',
  noise: [0, 0.5, 1],
  noiseLabel: 'label noise σ',
  mask: { ids: Int32Array.from({ length: 20 }, (_, i) => i), shape: [20] },
  async build(noise, size, seed) {
    const rng = new Rng(seed);
    const f = (v: Float32Array) => v[0]! * v[1]! + Math.sin(2 * v[2]!) + v[3]! ** 2 - 1;
    const make = (n: number, withNoise: boolean) => {
      const x = new Float32Array(n * 20);
      const y = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const row = x.subarray(i * 20, (i + 1) * 20);
        for (let k = 0; k < 20; k++) row[k] = rng.normal();
        y[i] = f(row) + (withNoise ? noise * rng.normal() : 0);
      }
      return { x, y };
    };
    const train = make(size.train, true);
    const test = make(size.rows, false);
    const net = tfl.sequential({ layers: [dense(32, { inputShape: [20], activation: 'relu' }), dense(32, { activation: 'relu' }), dense(1)] });
    const [xt, yt] = [tf.tensor2d(train.x, [size.train, 20]), tf.tensor2d(train.y, [size.train, 1])];
    await fit(net, xt, yt, size.epochs, 'mse');
    tf.dispose([xt, yt]);
    const x = tf.tensor2d(test.x, [size.rows, 20]);
    const pred = (await (net.predict(x) as tf.Tensor).data()) as Float32Array;
    const mean = test.y.reduce((a, b) => a + b, 0) / size.rows;
    let ssr = 0;
    let sst = 0;
    for (let i = 0; i < size.rows; i++) (ssr += (pred[i]! - test.y[i]!) ** 2), (sst += (test.y[i]! - mean) ** 2);
    const relevant = new Uint8Array(size.rows * 20);
    for (let i = 0; i < size.rows; i++) for (const k of [0, 1, 2, 3]) relevant[i * 20 + k] = 1;
    return { model: fromLayersModel(net), x, target: new Array<number>(size.rows).fill(0), relevant, quality: 1 - ssr / sst };
  },
};

/** Image: a bright 4×4 square in one quadrant of a 16×16 image decides the class; a dimmer distractor square sits in another; background noise of the given amplitude. */
export const IMAGE_TASK: BenchmarkTask = {
  id: 'image-region',
  kind: 'image',
  description: '16×16 images; the quadrant holding a bright 4×4 square is the class (4 classes); a dim distractor square elsewhere; uniform background noise',
  noise: [0.2, 0.4, 0.6],
  noiseLabel: 'background noise amplitude',
  mask: gridMask([16, 16, 1], 2),
  async build(noise, size, seed) {
    const rng = new Rng(seed);
    const make = (n: number) => {
      const x = new Float32Array(n * 256);
      const labels: number[] = [];
      const relevant = new Uint8Array(n * 256);
      for (let i = 0; i < n; i++) {
        const label = i % 4;
        labels.push(label);
        for (let p = 0; p < 256; p++) x[i * 256 + p] = noise * rng.next();
        const square = (q: number, value: number, mark: boolean) => {
          const r0 = (q >> 1) * 8 + 1 + rng.int(4);
          const c0 = (q & 1) * 8 + 1 + rng.int(4);
          for (let r = r0; r < r0 + 4; r++)
            for (let c = c0; c < c0 + 4; c++) {
              x[i * 256 + r * 16 + c] = value;
              if (mark) relevant[i * 256 + r * 16 + c] = 1;
            }
        };
        square(label, 1, true);
        square((label + 1 + rng.int(3)) % 4, 0.5, false);
      }
      return { x, labels, relevant };
    };
    const train = make(size.train);
    const test = make(size.rows);
    const net = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [16, 16, 1] }), dense(64, { activation: 'relu' }), dense(4)] });
    const [xt, yt] = [tf.tensor4d(train.x, [size.train, 16, 16, 1]), oneHot(train.labels, 4)];
    await fit(net, xt, yt, size.epochs, 'xent');
    tf.dispose([xt, yt]);
    const x = tf.tensor4d(test.x, [size.rows, 16, 16, 1]);
    return { model: fromLayersModel(net), x, target: test.labels, relevant: test.relevant, quality: await accuracy(net, x, test.labels) };
  },
};

/** Text: 12 one-hot tokens over a 16-word vocabulary; trigger words 1–2 make class 1, 3–4 class 0; the rest are fillers; noise = fraction of flipped training labels. */
export const TEXT_TASK: BenchmarkTask = {
  id: 'text-triggers',
  kind: 'text',
  description: '12 tokens (one-hot, 16-word vocabulary); one or two trigger words decide the class; label noise in training; scored per token (attribution summed over the one-hot dims)',
  noise: [0, 0.1, 0.25],
  noiseLabel: 'flipped training labels',
  mask: tokenMask([12, 16]),
  async build(noise, size, seed) {
    const rng = new Rng(seed);
    const make = (n: number, flip: number) => {
      const x = new Float32Array(n * 12 * 16);
      const labels: number[] = [];
      const relevant = new Uint8Array(n * 12 * 16);
      for (let i = 0; i < n; i++) {
        const label = i % 2;
        const tokens = Array.from({ length: 12 }, () => 5 + rng.int(11));
        const count = 1 + rng.int(2);
        for (let k = 0; k < count; k++) {
          const at = rng.int(12);
          tokens[at] = label === 1 ? 1 + rng.int(2) : 3 + rng.int(2);
          for (let v = 0; v < 16; v++) relevant[(i * 12 + at) * 16 + v] = 1;
        }
        tokens.forEach((t, p) => (x[(i * 12 + p) * 16 + t] = 1));
        labels.push(rng.next() < flip ? 1 - label : label);
      }
      return { x, labels, relevant };
    };
    const train = make(size.train, noise);
    const test = make(size.rows, 0);
    const net = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [12, 16] }), dense(32, { activation: 'relu' }), dense(2)] });
    const [xt, yt] = [tf.tensor3d(train.x, [size.train, 12, 16]), oneHot(train.labels, 2)];
    await fit(net, xt, yt, size.epochs, 'xent');
    tf.dispose([xt, yt]);
    const x = tf.tensor3d(test.x, [size.rows, 12, 16]);
    // scored per token: relevant when any of its one-hot dims is
    const tokens = Uint8Array.from({ length: size.rows * 12 }, (_, t) => test.relevant[t * 16]!);
    return { model: fromLayersModel(net), x, target: test.labels, relevant: tokens, quality: await accuracy(net, x, test.labels), unit: 16 };
  },
};

/**
 * DiFull (Rao et al. 2022): a 16×16 image of 2×2 cells, and a model whose output k is computed from
 * cell k alone (four independent branches), so attribution outside cell k is wrong by construction.
 * Seeded random weights; no training needed.
 */
export const DIFULL_TASK: BenchmarkTask = {
  id: 'difull-grid',
  kind: 'image',
  description: '16×16 image of 2×2 cells of 8×8; output k reads only cell k (four independent branches), by construction',
  noise: [0],
  noiseLabel: '—',
  mask: gridMask([16, 16, 1], 2),
  async build(_noise, size, seed) {
    const rng = new Rng(seed);
    const input = tfl.input({ shape: [16, 16, 1] });
    const branches = [0, 1, 2, 3].map((k) => {
      const [r, c] = [k >> 1, k & 1];
      const crop = tfl.layers.cropping2D({ cropping: [[r * 8, 8 - r * 8], [c * 8, 8 - c * 8]] }).apply(input) as tfl.SymbolicTensor;
      const flat = tfl.layers.flatten().apply(crop) as tfl.SymbolicTensor;
      const hidden = tfl.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + k }) }).apply(flat) as tfl.SymbolicTensor;
      return tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 10 + k }) }).apply(hidden) as tfl.SymbolicTensor;
    });
    const out = tfl.layers.concatenate().apply(branches) as tfl.SymbolicTensor;
    const net = tfl.model({ inputs: input, outputs: out });
    const x = tf.tensor4d(Float32Array.from({ length: size.rows * 256 }, () => rng.next()), [size.rows, 16, 16, 1]);
    const target = Array.from({ length: size.rows }, (_, i) => i % 4);
    const relevant = new Uint8Array(size.rows * 256);
    target.forEach((k, i) => {
      const [r, c] = [k >> 1, k & 1];
      for (let y = r * 8; y < r * 8 + 8; y++) for (let xx = c * 8; xx < c * 8 + 8; xx++) relevant[i * 256 + y * 16 + xx] = 1;
    });
    return { model: fromLayersModel(net), x, target, relevant, quality: 1 };
  },
};

export const BENCHMARK_TASKS: readonly BenchmarkTask[] = [TABULAR_TASK, IMAGE_TASK, TEXT_TASK, DIFULL_TASK];
