import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertNonNegative, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { Rng } from '../../core/random.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import { scoreBatch } from '../internal/perturb.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { prepare, samplesWithin } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { seedOption } from '../internal/options.js';

export interface RiseOptions extends AttributeOptions {
  /** Random masks per input. Default 1000. */
  readonly samples?: number;
  /** Cells per side of the low-resolution mask grid. Default 8. */
  readonly gridSize?: number;
  /** Probability that a cell is kept. Default 0.5. */
  readonly keepProbability?: number;
  /**
   * Subtract the mean score before weighting (an estimator of Cov(f, M)/E[M] with the same
   * expectation up to a constant, lower variance, and ≈ 0 on pixels that do not matter). Default false
   * (the paper's E[f · M] / E[M]).
   */
  readonly center?: boolean;
}

/**
 * RISE: score the input under many random soft masks (a coarse Bernoulli grid, bilinearly upsampled,
 * randomly shifted) and give each pixel the mask-weighted average of the scores, Σᵢ f(x ⊙ Mᵢ + b ⊙ (1 − Mᵢ)) Mᵢ / Σᵢ Mᵢ.
 * Images only ([batch, H, W, C] or [batch, H, W]); masks are shared by the channels.
 *
 * Cost: `batch × samples` forward rows. Anytime: a smaller `maxEvaluations` uses fewer masks and
 * reports `truncated: true`.
 *
 * @see Petsiuk, Das, Saenko (2018) RISE, https://arxiv.org/abs/1806.07421
 */
export class Rise implements Attributor<RiseOptions> {
  readonly id = 'rise' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'Rise');
  }

  cost(shape: readonly number[], opts: Partial<RiseOptions> = {}): number {
    return (shape[0] ?? 1) * (opts.samples ?? rise.defaults.samples);
  }

  async attribute(x: tf.Tensor, opts: RiseOptions): Promise<FeatureAttribution> {
    const fn = 'Rise.attribute';
    assertBatch(x, 'x', fn);
    if (x.rank !== 3 && x.rank !== 4) {
      throw new ShapeMismatchError(`Argument 'x' passed to '${fn}' must be images [batch, H, W, C] or [batch, H, W], got [${x.shape.join(', ')}]`, { arg: 'x', fn, actual: x.shape });
    }
    const requested = opts?.samples ?? rise.defaults.samples;
    const grid = opts?.gridSize ?? rise.defaults.gridSize;
    const p = opts?.keepProbability ?? rise.defaults.keepProbability;
    assertPositiveInt(requested, 'samples', fn);
    assertPositiveInt(grid, 'gridSize', fn);
    assertNonNegative(p, 'keepProbability', fn);
    if (p <= 0 || p > 1) throw new InvalidArgumentError(`Argument 'keepProbability' passed to '${fn}' must be in (0, 1], got ${p}`, { arg: 'keepProbability', fn, value: p });
    const rows = x.shape[0]!;
    const { samples, truncated } = samplesWithin(opts, rows, requested, (s) => rows * s, 1);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: rows * samples, exact: true });
    if (truncated) run.markTruncated();
    const [h, w] = [x.shape[1]!, x.shape[2]!];
    const c = x.rank === 4 ? x.shape[3]! : 1;
    const e = h * w * c;
    const rng = new Rng(opts.seed ?? rise.defaults.seed);
    return withScope(async (keep) => {
      const xd = (await x.data()) as Float32Array;
      const bd = (await keep(resolveBaseline(opts.baselines, x, fn)).data()) as Float32Array;
      const weighted = new Float64Array(n * h * w);
      const maskSum = new Float64Array(n * h * w);
      const scoreSum = new Float64Array(n);
      const rowShape = x.shape.slice(1);
      // jobs in row-major order (row i, mask k); each mask is drawn when its job is built
      const total = n * samples;
      for (const [s0, s1] of chunks(total, batchSize, run)) {
        const k = s1 - s0;
        await run.checkpoint(k);
        const batch = new Float32Array(k * e);
        const masks: Float32Array[] = [];
        const ids = new Int32Array(k);
        for (let j = s0; j < s1; j++) {
          const i = Math.floor(j / samples);
          ids[j - s0] = i;
          const m = riseMask(rng, h, w, grid, p);
          masks.push(m);
          const o = (j - s0) * e;
          for (let q = 0; q < h * w; q++) {
            const mq = m[q]!;
            for (let ch = 0; ch < c; ch++) {
              const at = i * e + q * c + ch;
              batch[o + q * c + ch] = xd[at]! * mq + bd[at]! * (1 - mq);
            }
          }
        }
        const scores = await scoreBatch(model, batch, [k, ...rowShape], ids, target, fn);
        for (let t = 0; t < k; t++) {
          const i = ids[t]!;
          const m = masks[t]!;
          const f = scores[t]!;
          scoreSum[i]! += f;
          for (let q = 0; q < h * w; q++) {
            weighted[i * h * w + q]! += f * m[q]!;
            maskSum[i * h * w + q]! += m[q]!;
          }
        }
      }
      // Σ f M / Σ M per pixel; centred: Σ (f − f̄) M / Σ M
      const out = new Float32Array(n * e);
      for (let i = 0; i < n; i++) {
        const mean = opts.center ? scoreSum[i]! / samples : 0;
        for (let q = 0; q < h * w; q++) {
          const ms = maskSum[i * h * w + q]!;
          const v = ms > 0 ? (weighted[i * h * w + q]! - mean * ms) / ms : 0;
          for (let ch = 0; ch < c; ch++) out[i * e + q * c + ch] = v;
        }
      }
      return new FeatureAttribution(this.id, tf.tensor(out, x.shape), withTargets(run.finish(), targetList(target)));
    });
  }
}

/**
 * One RISE mask of h × w in [0, 1]: a grid × grid Bernoulli(p) grid, bilinearly upsampled to
 * (grid + 1) cells of ⌈size / grid⌉ pixels, then cropped at a random shift within one cell.
 */
export function riseMask(rng: Rng, h: number, w: number, grid: number, p: number): Float32Array {
  const cellH = Math.ceil(h / grid);
  const cellW = Math.ceil(w / grid);
  const g = new Float32Array((grid + 1) * (grid + 1));
  for (let k = 0; k < g.length; k++) g[k] = rng.next() < p ? 1 : 0;
  const dy = rng.int(cellH);
  const dx = rng.int(cellW);
  const m = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    // position in grid units of the upsampled map (pixel centres), clamped to the grid
    const gy = Math.min(grid, Math.max(0, (y + dy + 0.5) / cellH - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(grid, y0 + 1);
    const fy = gy - y0;
    for (let x = 0; x < w; x++) {
      const gx = Math.min(grid, Math.max(0, (x + dx + 0.5) / cellW - 0.5));
      const x0 = Math.floor(gx);
      const x1 = Math.min(grid, x0 + 1);
      const fx = gx - x0;
      const top = g[y0 * (grid + 1) + x0]! * (1 - fx) + g[y0 * (grid + 1) + x1]! * fx;
      const bottom = g[y1 * (grid + 1) + x0]! * (1 - fx) + g[y1 * (grid + 1) + x1]! * fx;
      m[y * w + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return m;
}

/** RISE's one declaration: catalogue entry, CLI flags and defaults. */
export const rise = defineMethod({
  id: 'rise',
  title: 'RISE',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × samples',
  reference: 'Petsiuk et al. 2018, arXiv:1806.07421',
  stochastic: true,
  output: 'feature',
  options: {
    samples: { type: 'int', help: 'random masks per input', default: 1000 },
    gridSize: { type: 'int', help: 'cells per side of the mask grid', default: 8 },
    keepProbability: { type: 'number', help: 'probability a cell is kept', default: 0.5 },
    center: { type: 'bool', help: 'subtract the mean score (lower variance)', default: false },
    ...seedOption,
  },
  create: (m: ModelAdapter) => new Rise(m),
});
