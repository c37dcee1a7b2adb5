import * as tf from '@tensorflow/tfjs-core';
import type { FeatureAttribution } from '../../core/result.js';
import type { Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { attributeByDesign, gsaGridOption, gsaPerturbationOptions, regionVariables, type GsaOptions } from './gsa.js';
import { SobolSequence } from './sobol-sequence.js';
import { defineMethod } from '../../core/method.js';
import { maskOption, seedOption } from '../internal/options.js';

export interface SobolOptions extends GsaOptions {
  /** Points N of each of the matrices A and B (a power of two suits the Sobol sequence). Default 32. */
  readonly designs?: number;
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
    return (shape[0] ?? 1) * (opts.designs ?? sobol.defaults.designs) * (regionVariables(shape, opts, 'Sobol.cost').count + 2);
  }

  async attribute(x: tf.Tensor, opts: SobolOptions): Promise<FeatureAttribution> {
    return attributeByDesign(this.model, x, opts, {
      id: this.id,
      fn: 'Sobol.attribute',
      designs: opts?.designs ?? sobol.defaults.designs,
      seed: opts?.seed ?? sobol.defaults.seed,
      rowsPerInput: (dims, designs) => designs * (dims + 2),
      design: replicatedDesign,
      estimate: (_design, outputs, designs, dims) => jansenTotalIndices(outputs, designs, dims),
    });
  }
}

/** Sobol attribution's one declaration: catalogue entry, CLI flags and defaults. */
export const sobol = defineMethod({
  id: 'sobol',
  title: 'Sobol attribution (total-order indices)',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × designs × (regions + 2)',
  reference: 'Fel et al. 2021, arXiv:2111.04138',
  stochastic: true,
  output: 'feature',
  options: {
    ...gsaGridOption,
    ...maskOption,
    designs: { type: 'int', help: 'points N of the matrices A and B', default: 32 },
    ...gsaPerturbationOptions,
    ...seedOption,
  },
  create: (m: ModelAdapter) => new Sobol(m),
});
