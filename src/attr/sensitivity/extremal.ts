import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt } from '../../core/assert.js';
import { chunks } from '../../core/batching.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { objectiveFor, targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireGradients, type DifferentiableModel, type ModelAdapter } from '../../models/model.js';
import { blurBaseline } from '../baselines.js';
import { prepare } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { gradientModel } from '../internal/options.js';

export interface ExtremalPerturbationOptions extends AttributeOptions {
  /** Fractions of the image the mask may keep; one mask is optimised per area. Default [0.05, 0.1, 0.2]. */
  readonly areas?: readonly number[];
  /** 'preserve' (default): the kept region alone must keep the score up; 'delete': removing it must bring the score down. */
  readonly variant?: 'preserve' | 'delete';
  /** Optimisation steps per area. Default 300. */
  readonly iterations?: number;
  /** Adam step size on the mask parameters. Default 0.05. */
  readonly learningRate?: number;
  /** Pixels per mask parameter along each side (the mask is smooth at this scale). Default ⌈min(H, W) / 16⌉. */
  readonly maskStep?: number;
  /** σ (pixels) of the Gaussian blur that removed pixels become. Default min(H, W) / 20. */
  readonly blurSigma?: number;
  /**
   * Weight of the area constraint at the last step (it grows geometrically from 1/100 of it). The
   * reward's gradient is scaled to a maximum of 1 per image at each step, so the weight is in the same
   * units whatever the model and image size. Default 1.
   */
  readonly areaWeight?: number;
}

/**
 * Extremal perturbations (Fong, Patrick, Vedaldi 2019): for each area a, the smooth mask m of area a
 * that best preserves the target when everything outside it is blurred (or, for 'delete', best
 * destroys it when the masked region is blurred): maximise F_t(m ⊙ x + (1 − m) ⊙ blur(x)) − λ ‖sort(m)
 * − r_a‖², r_a the sorted ideal mask with a fraction a of ones, by Adam on a low-resolution mask
 * upsampled bilinearly and projected to [0, 1], λ growing over the steps (the reward's gradient is
 * normalised per image and step, which makes λ independent of the model's scale and the image size;
 * TorchRay uses the raw logit with a fixed weight). The attribution is the sum
 * of the masks over the areas (TorchRay's summary), broadcast over channels: pixels that belong to
 * the smallest sufficient regions score highest. Needs gradients (TF.js or ONNX with a backward graph).
 *
 * Cost: `batch × areas × iterations` forward+backward rows, checked before any work.
 * @see Fong, Patrick, Vedaldi (2019), https://arxiv.org/abs/1910.08485
 */
export class ExtremalPerturbation implements Attributor<ExtremalPerturbationOptions> {
  readonly id = 'extremal-perturbation' as const;
  constructor(private readonly model: DifferentiableModel) {
    requireGradients(model, 'ExtremalPerturbation');
  }

  cost(shape: readonly number[], opts: Partial<ExtremalPerturbationOptions> = {}): number {
    return (shape[0] ?? 1) * (opts.areas ?? extremalPerturbation.defaults.areas).length * (opts.iterations ?? extremalPerturbation.defaults.iterations);
  }

  async attribute(x: tf.Tensor, opts: ExtremalPerturbationOptions): Promise<FeatureAttribution> {
    const fn = 'ExtremalPerturbation.attribute';
    assertBatch(x, 'x', fn);
    if (x.rank !== 4) throw new ShapeMismatchError(`Argument 'x' passed to '${fn}' must be images [batch, H, W, C], got [${x.shape.join(', ')}]`, { arg: 'x', fn, actual: x.shape });
    const areas = opts?.areas ?? [0.05, 0.1, 0.2];
    if (!Array.isArray(areas) || areas.length === 0 || areas.some((a) => !(a > 0 && a < 1))) {
      throw new InvalidArgumentError(`Argument 'areas' passed to '${fn}' must be a non-empty list of fractions in (0, 1), got ${JSON.stringify(areas)}`, { arg: 'areas', fn });
    }
    const iterations = opts.iterations ?? extremalPerturbation.defaults.iterations;
    assertPositiveInt(iterations, 'iterations', fn);
    const [, h, w, c] = x.shape as [number, number, number, number];
    const step = opts.maskStep ?? Math.ceil(Math.min(h, w) / 16);
    assertPositiveInt(step, 'maskStep', fn);
    const lr = opts.learningRate ?? extremalPerturbation.defaults.learningRate;
    const lambdaEnd = opts.areaWeight ?? 1;
    const variant = opts.variant ?? extremalPerturbation.defaults.variant;
    if (variant !== 'preserve' && variant !== 'delete') throw new InvalidArgumentError(`Argument 'variant' passed to '${fn}' must be 'preserve' or 'delete', got ${JSON.stringify(variant)}`, { arg: 'variant', fn });
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { areas, iterations }), exact: true });
    const [mh, mw] = [Math.ceil(h / step) + 1, Math.ceil(w / step) + 1];
    const px = h * w;
    const blurred = blurBaseline(opts.blurSigma ?? Math.max(1, Math.min(h, w) / 20))(x);
    const total = new Float32Array(n * px);
    try {
      for (const area of areas) {
        // the ideal sorted mask of this area: a fraction `area` of ones at the top
        const ones = Math.round(area * px);
        for (const [s, e] of chunks(n, batchSize)) {
          const k = e - s;
          const ids = Int32Array.from({ length: k }, (_, i) => s + i);
          const xs = tf.slice(x, s, k);
          const bs = tf.slice(blurred, s, k);
          const p = new Float32Array(k * mh * mw).fill(0.5);
          const [m1, m2] = [new Float32Array(p.length), new Float32Array(p.length)];
          // mask(p): bilinear upsampling of the parameter grid to the image, [k, H, W, 1]
          const maskOf = (q: tf.Tensor) => tf.slice(tf.image.resizeBilinear(q as tf.Tensor4D, [mh * step, mw * step], true), [0, 0, 0, 0], [k, h, w, 1]);
          try {
            for (let it = 0; it < iterations; it++) {
              await run.checkpoint(k);
              const lambda = (lambdaEnd / 100) * 100 ** (it / Math.max(1, iterations - 1));
              const pt = tf.tensor4d(p, [k, mh, mw, 1]);
              const mask = tf.tidy(() => maskOf(pt));
              const kept = variant === 'preserve' ? mask : tf.tidy(() => tf.sub(1, mask));
              const z = tf.tidy(() => tf.add(tf.mul(xs, kept), tf.mul(bs, tf.sub(1, kept))));
              let g: tf.Tensor;
              try {
                g = await model.gradients(z, objectiveFor(target, ids, fn), { rows: ids });
              } catch (err) {
                tf.dispose([pt, mask, kept === mask ? [] : kept]);
                throw err;
              } finally {
                z.dispose();
              }
              // d reward / d mask = Σ_c g ⊙ (x − blur(x)), negated for 'delete' (the mask is what is removed)
              const dReward = tf.tidy(() => tf.mul(tf.sum(tf.mul(g, tf.sub(xs, bs)), 3, true), variant === 'preserve' ? 1 : -1));
              g.dispose();
              const mv = (await mask.data()) as Float32Array;
              const dr = (await dReward.data()) as Float32Array;
              tf.dispose([dReward, kept === mask ? [] : kept]);
              // energy = −reward/‖∇reward‖∞ + λ·Σ(sort(m) − r_a)²: its gradient with respect to the mask, on the host
              const dE = new Float32Array(k * px);
              for (let i = 0; i < k; i++) {
                const row = mv.subarray(i * px, (i + 1) * px);
                let scale = 0;
                for (let q = 0; q < px; q++) scale = Math.max(scale, Math.abs(dr[i * px + q]!));
                scale = scale > 0 ? 1 / scale : 0;
                const order = Array.from({ length: px }, (_, q) => q).sort((a, b) => row[a]! - row[b]!);
                for (let r = 0; r < px; r++) {
                  const q = order[r]!;
                  const ideal = r >= px - ones ? 1 : 0;
                  dE[i * px + q] = -dr[i * px + q]! * scale + lambda * 2 * (row[q]! - ideal);
                }
              }
              // back through the upsampling to the parameters, then an Adam step projected to [0, 1]
              const dEt = tf.tensor4d(dE, [k, h, w, 1]);
              const gp = tf.tidy(() => tf.grad((q: tf.Tensor) => tf.sum(tf.mul(maskOf(q), dEt)))(pt));
              const gd = (await gp.data()) as Float32Array;
              tf.dispose([pt, mask, dEt, gp]);
              const t = it + 1;
              for (let j = 0; j < p.length; j++) {
                m1[j] = 0.9 * m1[j]! + 0.1 * gd[j]!;
                m2[j] = 0.999 * m2[j]! + 0.001 * gd[j]! * gd[j]!;
                const update = (lr * (m1[j]! / (1 - 0.9 ** t))) / (Math.sqrt(m2[j]! / (1 - 0.999 ** t)) + 1e-8);
                p[j] = Math.min(1, Math.max(0, p[j]! - update));
              }
            }
            const final = tf.tidy(() => maskOf(tf.tensor4d(p, [k, mh, mw, 1])));
            const fv = (await final.data()) as Float32Array;
            final.dispose();
            for (let q = 0; q < k * px; q++) total[s * px + q]! += Math.min(1, Math.max(0, fv[q]!));
          } finally {
            tf.dispose([xs, bs]);
          }
        }
      }
    } finally {
      blurred.dispose();
    }
    const values = tf.tidy(() => tf.tile(tf.tensor4d(total, [n, h, w, 1]), [1, 1, 1, c]));
    return new FeatureAttribution(this.id, values, withTargets(run.finish(), targetList(target)));
  }
}

/** Extremal perturbations' one declaration: catalogue entry, CLI flags and defaults. */
export const extremalPerturbation = defineMethod({
  id: 'extremal-perturbation',
  title: 'Extremal perturbations',
  family: 'perturbation',
  requires: 'gradients',
  cost: 'batch × areas × iterations',
  reference: 'Fong, Patrick & Vedaldi 2019, arXiv:1910.08485',
  stochastic: false,
  output: 'feature',
  options: {
    areas: { type: 'number-list', help: 'fractions of the image kept, one mask each', default: [0.05, 0.1, 0.2] },
    variant: { type: 'enum', values: ['preserve', 'delete'], help: 'keep the region, or delete it', default: 'preserve' },
    iterations: { type: 'int', help: 'optimisation steps per area', default: 300 },
    learningRate: { type: 'number', help: 'Adam step size', default: 0.05 },
    maskStep: { type: 'int', help: 'pixels per mask parameter' },
    blurSigma: { type: 'number', help: 'σ of the blur removed pixels become' },
  },
  create: (m: ModelAdapter) => new ExtremalPerturbation(gradientModel(m, 'ExtremalPerturbation')),
});
