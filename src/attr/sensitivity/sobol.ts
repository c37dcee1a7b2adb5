import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertNonNegative, assertOneOf, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import { FeatureAttribution } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { withTargets } from '../gradient/saliency.js';
import { scoreBatch } from '../internal/perturb.js';
import { prepare } from '../internal/prepare.js';
import { resolveFeatureMask, type FeatureMaskInput } from '../masks.js';
import { SobolSequence } from './sobol-sequence.js';

export const SOBOL_PERTURBATIONS = ['inpainting', 'blur', 'amplitude'] as const;
export type SobolPerturbation = (typeof SOBOL_PERTURBATIONS)[number];

export interface SobolOptions extends AttributeOptions {
  /** Images: cells per side of the mask grid (the variables). Default 8. */
  readonly gridSize?: number;
  /** Other inputs (or to override the grid): an integer feature id per element; each feature is a variable. */
  readonly featureMask?: FeatureMaskInput;
  /** Points N of each of the matrices A and B (a power of two suits the Sobol sequence). Default 32. */
  readonly designs?: number;
  /**
   * How a mask value m ∈ [0, 1] perturbs its variable: 'inpainting' (default) b + m·(x − b), the
   * baseline b defaulting to 0; 'blur' towards a box-blurred copy of the image (`blurSize` pixels);
   * 'amplitude' x + σ·(m − 0.5) with σ = `amplitude`.
   */
  readonly perturbation?: SobolPerturbation;
  readonly blurSize?: number;
  readonly amplitude?: number;
  /** Random digital shift of the Sobol points (seeded by `seed`). Default true. */
  readonly scramble?: boolean;
}

/**
 * The replicated design of Jansen's estimator for D variables and N points: A and B (N × D each,
 * from one 2D-dimensional Sobol sequence), then C_i = A with column i taken from B, for i = 1..D:
 * N·(D + 2) rows of D mask values, row-major.
 */
export function replicatedDesign(dims: number, designs: number, opts: { scramble?: boolean; seed?: number } = {}): Float32Array {
  const seq = new SobolSequence(2 * dims, opts);
  const a = new Float32Array(designs * dims);
  const b = new Float32Array(designs * dims);
  const p = new Float64Array(2 * dims);
  for (let n = 0; n < designs; n++) {
    seq.next(p);
    for (let d = 0; d < dims; d++) (a[n * dims + d] = p[d]!), (b[n * dims + d] = p[dims + d]!);
  }
  const out = new Float32Array(designs * (dims + 2) * dims);
  out.set(a, 0);
  out.set(b, designs * dims);
  for (let i = 0; i < dims; i++) {
    const o = (2 + i) * designs * dims;
    out.set(a, o);
    for (let n = 0; n < designs; n++) out[o + n * dims + i] = b[n * dims + i]!;
  }
  return out;
}

/**
 * Jansen's estimator of total-order Sobol indices from the outputs on a replicated design (A, B, C_1..C_D
 * in order): ST_i = Σ_n (f(A_n) − f(C_i,n))² / (2N · Var f(A)) (unbiased variance).
 */
export function jansenTotalIndices(outputs: ArrayLike<number>, designs: number, dims: number): Float64Array {
  let mean = 0;
  for (let n = 0; n < designs; n++) mean += outputs[n]!;
  mean /= designs;
  let v = 0;
  for (let n = 0; n < designs; n++) v += (outputs[n]! - mean) ** 2;
  v = Math.max(v / Math.max(designs - 1, 1), 1e-12);
  const st = new Float64Array(dims);
  for (let i = 0; i < dims; i++) {
    let s = 0;
    const o = (2 + i) * designs;
    for (let n = 0; n < designs; n++) s += (outputs[n]! - outputs[o + n]!) ** 2;
    st[i] = s / (2 * designs * v);
  }
  return st;
}

/**
 * Sobol attribution (Fel et al. 2021, "Look at the Variance!"): the total-order Sobol index of each
 * image region (a cell of a grid, or a feature of `featureMask`) for the target score, when the regions
 * are perturbed together by quasi-Monte-Carlo masks. It captures each region's interactions with the
 * others, and needs N·(D + 2) forward passes per input (D variables, N designs): forward-only, so any
 * model works (ONNX Runtime, a remote function). Every element gets its region's index.
 *
 * Cost: `batch × designs × (variables + 2)` forward rows, checked before any work.
 * @see Fel, Cadène, Chalvidal, Cord, Vigouroux, Serre (2021), https://arxiv.org/abs/2111.04138
 */
export class Sobol implements Attributor<SobolOptions> {
  readonly id = 'sobol' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'Sobol');
  }

  cost(shape: readonly number[], opts: Partial<SobolOptions> = {}): number {
    return (shape[0] ?? 1) * (opts.designs ?? 32) * (this.variables(shape, opts, 'Sobol.cost').count + 2);
  }

  async attribute(x: tf.Tensor, opts: SobolOptions): Promise<FeatureAttribution> {
    const fn = 'Sobol.attribute';
    assertBatch(x, 'x', fn);
    const designs = opts?.designs ?? 32;
    const perturbation = opts?.perturbation ?? 'inpainting';
    assertPositiveInt(designs, 'designs', fn);
    assertOneOf(perturbation, SOBOL_PERTURBATIONS, 'perturbation', fn);
    const blurSize = opts.blurSize ?? 10;
    assertPositiveInt(blurSize, 'blurSize', fn);
    const sigma = opts.amplitude ?? 1;
    assertNonNegative(sigma, 'amplitude', fn);
    const groups = this.variables(x.shape, opts, fn);
    const dims = groups.count;
    const perRow = designs * (dims + 2);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: x.shape[0]! * perRow, exact: true });
    const design = replicatedDesign(dims, designs, { scramble: opts.scramble ?? true, seed: opts.seed ?? 0 });
    const rowShape = x.shape.slice(1);
    const e = groups.featureOf.length;
    return withScope(async (keep) => {
      const xd = (await x.data()) as Float32Array;
      const bd = perturbation === 'blur' ? boxBlur(xd, x.shape, blurSize) : ((await keep(resolveBaseline(opts.baselines, x, fn)).data()) as Float32Array);
      const out = new Float32Array(n * e);
      const outputs = new Float32Array(perRow);
      for (let i = 0; i < n; i++) {
        for (const [s, t] of chunks(perRow, batchSize)) {
          await run.checkpoint(t - s);
          const batch = new Float32Array((t - s) * e);
          for (let r = s; r < t; r++) {
            const m = design.subarray(r * dims, (r + 1) * dims);
            const o = (r - s) * e;
            for (let q = 0; q < e; q++) {
              const v = m[groups.featureOf[q]!]!;
              const xv = xd[i * e + q]!;
              batch[o + q] = perturbation === 'amplitude' ? xv + sigma * (v - 0.5) : bd[i * e + q]! + v * (xv - bd[i * e + q]!);
            }
          }
          outputs.set(await scoreBatch(model, batch, [t - s, ...rowShape], new Int32Array(t - s).fill(i), target, fn), s);
        }
        const st = jansenTotalIndices(outputs, designs, dims);
        for (let q = 0; q < e; q++) out[i * e + q] = st[groups.featureOf[q]!]!;
      }
      return new FeatureAttribution(this.id, tf.tensor(out, x.shape), withTargets(run.finish(), targetList(target)));
    });
  }

  /** The variables: a featureMask's features, else a gridSize × gridSize grid over an image's H × W (channels shared). */
  private variables(shape: readonly number[], opts: Partial<SobolOptions>, fn: string) {
    const rowShape = shape.slice(1);
    if (opts.featureMask !== undefined || rowShape.length < 2) return resolveFeatureMask(opts.featureMask, rowShape, fn);
    const grid = opts.gridSize ?? 8;
    assertPositiveInt(grid, 'gridSize', fn);
    const [h, w] = [rowShape[0]!, rowShape[1]!];
    const c = rowShape.slice(2).reduce((a, b) => a * b, 1);
    const ids = new Int32Array(h * w * c);
    // nearest-neighbour upsampling of the grid, as Xplique's masks
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) for (let k = 0; k < c; k++) ids[(y * w + xx) * c + k] = Math.floor((y * grid) / h) * grid + Math.floor((xx * grid) / w);
    return resolveFeatureMask({ ids, shape: rowShape }, rowShape, fn);
  }
}

/** A k × k box blur of each image of a [n, H, W, C] batch (edges clamped), on the host. */
export function boxBlur(data: Float32Array, shape: readonly number[], k: number): Float32Array {
  const [n, h, w] = [shape[0]!, shape[1]!, shape[2] ?? 1];
  const c = shape.slice(3).reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.length);
  const lo = Math.floor((k - 1) / 2);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let dy = -lo; dy < k - lo; dy++)
            for (let dx = -lo; dx < k - lo; dx++) {
              const yy = Math.min(h - 1, Math.max(0, y + dy));
              const xx = Math.min(w - 1, Math.max(0, x + dx));
              s += data[((i * h + yy) * w + xx) * c + ch]!;
            }
          out[((i * h + y) * w + x) * c + ch] = s / (k * k);
        }
  return out;
}
