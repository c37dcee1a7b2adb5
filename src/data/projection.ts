// Seeded Johnson–Lindenstrauss projections of gradients, applied in blocks of parameters: the matrix
// P [k × p] is regenerated block by block from the seed (kept when it fits a small cache), never
// materialised whole when it does not fit.
import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { KroneckerProjection } from './kronecker-projection.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';

/** Dense JL matrices with Rademacher or Gaussian entries, or LoGra's per-layer Kronecker factors. */
export type ProjectionKind = 'rademacher' | 'gaussian' | 'kronecker';

/** A linear map of per-example gradients [rows × p] to features [rows × outputDim]. */
export interface GradientProjection {
  readonly outputDim: number;
  project(x: Float64Array, rows: number): Float64Array;
}

/** The projection options of the gradient-feature methods (grad-dot, grad-cos, TracIn, TRAK). */
export interface ProjectionOptions {
  /** Project gradients to this many dimensions first ('kronecker': each side of each layer). Default: no projection. */
  readonly projectionDim?: number;
  /** Entries of P, or 'kronecker' (see KroneckerProjection). Default 'rademacher'. */
  readonly projection?: ProjectionKind;
  readonly seed?: number;
}

/** The projection `o` asks for on the model's gradients (seed + `offset`, one fresh matrix per model), or undefined. */
export function projectionFor(o: ProjectionOptions, model: OnnxTrainingModel, offset = 0): GradientProjection | undefined {
  if (o.projectionDim === undefined) return undefined;
  const seed = (o.seed ?? 0) + offset;
  const kind = o.projection ?? 'rademacher';
  return kind === 'kronecker' ? new KroneckerProjection(model.layers, model.parameterCount, o.projectionDim, seed) : new RandomProjection(model.parameterCount, o.projectionDim, seed, kind);
}

/** Parameters per block of P's columns. */
const BLOCK = 256;
/** Entries of P kept in memory at most (32 MiB of doubles); beyond it blocks are regenerated per call. */
export const PROJECTION_CACHE_ENTRIES = 2 ** 22;

/**
 * x ↦ P x with P [k × p] of independent entries ±1/√k (Rademacher) or N(0, 1/k) (Gaussian), so that
 * E‖Px‖² = ‖x‖². Entry (r, c) depends only on the seed, c's block and r: the same seed gives the
 * same P whatever the batching.
 *
 * Cost: k·p multiply-adds per row (plus k·p draws per call when P does not fit the cache).
 * @throws {InvalidArgumentError} when k is not an integer in [1, p].
 */
export class RandomProjection implements GradientProjection {
  private readonly cache: (Float64Array | undefined)[] = [];
  private readonly cached: boolean;

  constructor(
    readonly inputDim: number,
    readonly outputDim: number,
    readonly seed = 0,
    readonly kind: Exclude<ProjectionKind, 'kronecker'> = 'rademacher',
  ) {
    const fn = 'RandomProjection';
    if (!Number.isInteger(outputDim) || outputDim < 1 || outputDim > inputDim) {
      throw new InvalidArgumentError(`Argument 'projectionDim' passed to '${fn}' must be an integer between 1 and the parameter count ${inputDim}, got ${outputDim}`, { arg: 'projectionDim', fn, value: outputDim, parameters: inputDim });
    }
    if (kind !== 'rademacher' && kind !== 'gaussian') throw new InvalidArgumentError(`Argument 'projection' passed to '${fn}' must be 'rademacher' or 'gaussian', got ${String(kind)}`, { arg: 'projection', fn });
    this.cached = inputDim * outputDim <= PROJECTION_CACHE_ENTRIES;
  }

  /** Block b of P's columns, column-major: entry (c, r) at c·k + r. */
  private block(b: number): Float64Array {
    const hit = this.cache[b];
    if (hit) return hit;
    const k = this.outputDim;
    const cols = Math.min(BLOCK, this.inputDim - b * BLOCK);
    const rng = new Rng((Math.imul(this.seed | 0, 0x9e3779b1) ^ Math.imul(b + 1, 0x85ebca6b)) >>> 0);
    const out = new Float64Array(cols * k);
    const scale = 1 / Math.sqrt(k);
    for (let e = 0; e < out.length; e++) out[e] = this.kind === 'gaussian' ? rng.normal() * scale : (rng.nextUint32() & 1 ? scale : -scale);
    if (this.cached) this.cache[b] = out;
    return out;
  }

  /** Rows of `x` [rows × p] projected: [rows × k]. */
  project(x: Float64Array, rows: number): Float64Array {
    const p = this.inputDim;
    const k = this.outputDim;
    const out = new Float64Array(rows * k);
    for (let b = 0; b * BLOCK < p; b++) {
      const blk = this.block(b);
      const c0 = b * BLOCK;
      const cols = blk.length / k;
      for (let r = 0; r < rows; r++) {
        const xo = r * p + c0;
        const oo = r * k;
        for (let c = 0; c < cols; c++) {
          const v = x[xo + c]!;
          if (v === 0) continue;
          const bo = c * k;
          for (let j = 0; j < k; j++) out[oo + j]! += v * blk[bo + j]!;
        }
      }
    }
    return out;
  }
}
