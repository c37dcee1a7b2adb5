import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt, assertSameShape } from '../core/assert.js';
import { chunks } from '../core/batching.js';
import { InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import type { RunControl, Target } from '../core/types.js';
import type { ModelAdapter } from '../models/model.js';
import { scoreBatch } from '../attr/internal/perturb.js';
import { prepare } from '../attr/internal/prepare.js';
import { trapezoid } from './deletion.js';

export interface RoadOptions extends RunControl {
  readonly target: Target;
  /** Fractions of pixels removed, increasing. Default 0.1, 0.2, …, 0.9 (the paper's). */
  readonly fractions?: readonly number[];
  /** 'morf': most relevant first (lower is better); 'lerf': least relevant first (higher is better). Default 'morf'. */
  readonly order?: 'morf' | 'lerf';
  /** Standard deviation of the noise added to imputed pixels. Default 0.01 (the paper's). */
  readonly noise?: number;
  /** Gauss–Seidel sweeps of the imputation. Default 100. */
  readonly sweeps?: number;
}

export interface RoadCurve {
  readonly fractions: Float64Array;
  /** F_t after removing each fraction, one row per input. */
  readonly values: readonly Float64Array[];
  /** Mean of the curve over the fractions (the area under it, per unit of fraction), per row. */
  readonly auc: Float64Array;
  readonly evaluations: number;
}

/**
 * ROAD, Remove And Debias (Rong et al. 2022): remove a fraction of the pixels in order of
 * attribution (summed over channels) and replace them by noisy linear imputation (each removed pixel
 * the weighted mean of its 8 neighbours, 1/6 for edge neighbours and 1/12 for diagonal ones, solved
 * jointly, plus Gaussian noise), so that the removal leaks no information about which pixels were
 * removed; then score the model. No retraining; images [batch, H, W, C].
 *
 * Cost: `batch × fractions` forward rows.
 * @see Rong, Leemann, Borisov, Kasneci, Kasneci (2022), https://arxiv.org/abs/2202.00449
 */
export async function roadCurve(model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, opts: RoadOptions): Promise<RoadCurve> {
  const fn = 'roadCurve';
  assertBatch(x, 'x', fn);
  assertSameShape(attribution, x, fn);
  if (x.rank !== 4) throw new ShapeMismatchError(`Argument 'x' passed to '${fn}' must be images [batch, H, W, C], got [${x.shape.join(', ')}]`, { arg: 'x', fn, actual: x.shape });
  const fractions = opts.fractions ?? [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  if (fractions.length === 0 || fractions.some((f, i) => !(f >= 0 && f <= 1) || (i > 0 && f < fractions[i - 1]!))) {
    throw new InvalidArgumentError(`Argument 'fractions' passed to '${fn}' must be increasing fractions in [0, 1], got ${JSON.stringify(fractions)}`, { arg: 'fractions', fn });
  }
  const sweeps = opts.sweeps ?? 100;
  assertPositiveInt(sweeps, 'sweeps', fn);
  const order = opts.order ?? 'morf';
  const { run, target, batchSize, n } = await prepare(model, x, opts, { fn, cost: x.shape[0]! * fractions.length, exact: true });
  const [, h, w, c] = x.shape as [number, number, number, number];
  const px = h * w;
  const e = px * c;
  const [xd, ad] = [(await x.data()) as Float32Array, await attribution.data()];
  const rng = new Rng(opts.seed ?? 0);
  const std = opts.noise ?? 0.01;
  const jobs = n * fractions.length;
  const values = new Float32Array(jobs);
  // one imputed image per job, built when its batch is
  const build = (j: number, out: Float32Array, at: number) => {
    const i = Math.floor(j / fractions.length);
    const frac = fractions[j % fractions.length]!;
    const score = new Float64Array(px);
    for (let p = 0; p < px; p++) for (let k = 0; k < c; k++) score[p]! += ad[i * e + p * c + k]!;
    const ranked = Int32Array.from({ length: px }, (_, p) => p).sort((a, b) => (order === 'morf' ? score[b]! - score[a]! : score[a]! - score[b]!) || a - b);
    const removed = new Uint8Array(px);
    const count = Math.round(frac * px);
    for (let r = 0; r < count; r++) removed[ranked[r]!] = 1;
    out.set(xd.subarray(i * e, (i + 1) * e), at);
    impute(out, at, h, w, c, removed, sweeps);
    for (let p = 0; p < px; p++) if (removed[p]) for (let k = 0; k < c; k++) out[at + p * c + k]! += std * rng.normal();
  };
  for (const [s, t] of chunks(jobs, batchSize)) {
    await run.checkpoint(t - s);
    const batch = new Float32Array((t - s) * e);
    const rows = new Int32Array(t - s);
    for (let j = s; j < t; j++) {
      build(j, batch, (j - s) * e);
      rows[j - s] = Math.floor(j / fractions.length);
    }
    values.set(await scoreBatch(model, batch, [t - s, h, w, c], rows, target, fn), s);
  }
  const fr = Float64Array.from(fractions);
  const curves = Array.from({ length: n }, (_, i) => Float64Array.from(values.subarray(i * fractions.length, (i + 1) * fractions.length)));
  const span = fr[fr.length - 1]! - fr[0]!;
  const auc = Float64Array.from(curves, (row) => (span > 0 ? trapezoid(fr, row) / span : row[0]!));
  return { fractions: fr, values: curves, auc, evaluations: run.finish().evaluations };
}

/** Noisy linear imputation without the noise: removed pixels become the 1/6–1/12-weighted mean of their neighbours (Gauss–Seidel). */
function impute(img: Float32Array, at: number, h: number, w: number, c: number, removed: Uint8Array, sweeps: number): void {
  const known: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    let cnt = 0;
    for (let p = 0; p < h * w; p++) if (!removed[p]) (mean += img[at + p * c + ch]!), cnt++;
    known.push(cnt > 0 ? mean / cnt : 0);
  }
  const targets: number[] = [];
  for (let p = 0; p < h * w; p++) if (removed[p]) targets.push(p);
  for (const p of targets) for (let ch = 0; ch < c; ch++) img[at + p * c + ch] = known[ch]!;
  const nb: [number, number, number][] = [
    [-1, 0, 1 / 6],
    [1, 0, 1 / 6],
    [0, -1, 1 / 6],
    [0, 1, 1 / 6],
    [-1, -1, 1 / 12],
    [-1, 1, 1 / 12],
    [1, -1, 1 / 12],
    [1, 1, 1 / 12],
  ];
  for (let it = 0; it < sweeps; it++) {
    for (const p of targets) {
      const [y, x] = [Math.floor(p / w), p % w];
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        let wsum = 0;
        for (const [dy, dx, wt] of nb) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          s += wt * img[at + (yy * w + xx) * c + ch]!;
          wsum += wt;
        }
        img[at + p * c + ch] = s / wsum;
      }
    }
  }
}
