import * as tf from '@tensorflow/tfjs-core';
import type { FeatureAttribution } from '../../core/result.js';
import type { Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { attributeByDesign, gsaGridOption, gsaPerturbationOptions, type GsaOptions } from './gsa.js';
import { SobolSequence } from './sobol-sequence.js';
import { defineMethod } from '../../core/method.js';
import { maskOption, seedOption } from '../internal/options.js';

export interface HsicOptions extends GsaOptions {
  /** Binary mask designs per input (forward passes). Default 500 (Xplique's default). */
  readonly designs?: number;
}

/** `designs` binary masks over `dims` regions: a (scrambled) Sobol sequence rounded to {0, 1}. Row-major. */
export function binaryDesign(dims: number, designs: number, opts: { scramble?: boolean; seed?: number } = {}): Float32Array {
  const seq = new SobolSequence(dims, opts);
  const out = new Float32Array(designs * dims);
  const p = new Float64Array(dims);
  for (let n = 0; n < designs; n++) {
    seq.next(p);
    for (let d = 0; d < dims; d++) out[n * dims + d] = p[d]! < 0.5 ? 0 : 1;
  }
  return out;
}

/**
 * HSIC between each binary mask variable and the outputs: with the Dirac-type input kernel
 * k(m, m') = 1.5 − (m − m')² and an RBF output kernel l(y, y') = exp(−(y − y')² / (2w²)), the score
 * of variable i is tr(K_i H L H) / N (H = I − 11ᵀ/N), i.e. Σ over pairs of designs that agree on
 * the variable of the centred output kernel, / N. The bandwidth w is the median of |y| (Xplique's
 * heuristic), or the median pairwise distance when that is 0.
 */
export function hsicScores(design: Float32Array, outputs: ArrayLike<number>, designs: number, dims: number): Float64Array {
  const y = Float64Array.from({ length: designs }, (_, n) => outputs[n]!);
  const w = bandwidth(y);
  // centred output Gram matrix HLH
  const l = new Float64Array(designs * designs);
  for (let a = 0; a < designs; a++) for (let b = 0; b < designs; b++) l[a * designs + b] = Math.exp(-((y[a]! - y[b]!) ** 2) / (2 * w * w));
  const rowMean = new Float64Array(designs);
  let all = 0;
  for (let a = 0; a < designs; a++) {
    let s = 0;
    for (let b = 0; b < designs; b++) s += l[a * designs + b]!;
    rowMean[a] = s / designs;
    all += s;
  }
  all /= designs * designs;
  for (let a = 0; a < designs; a++) for (let b = 0; b < designs; b++) l[a * designs + b] = l[a * designs + b]! - rowMean[a]! - rowMean[b]! + all;
  // tr(K_i · HLH): the 0.5 part of K_i meets rows of HLH that sum to 0; what is left is the pairs that agree
  const scores = new Float64Array(dims);
  for (let i = 0; i < dims; i++) {
    let s = 0;
    for (let a = 0; a < designs; a++) {
      const ma = design[a * dims + i]!;
      for (let b = 0; b < designs; b++) if (design[b * dims + i] === ma) s += l[a * designs + b]!;
    }
    scores[i] = s / designs;
  }
  return scores;
}

function bandwidth(y: Float64Array): number {
  const med = (v: number[]) => {
    const sorted = [...v].sort((a, b) => a - b);
    const m = (sorted.length - 1) / 2;
    return (sorted[Math.floor(m)]! + sorted[Math.ceil(m)]!) / 2;
  };
  const w = Math.abs(med(Array.from(y)));
  if (w > 1e-12 && Number.isFinite(w)) return w;
  const d: number[] = [];
  for (let a = 0; a < y.length; a++) for (let b = a + 1; b < y.length; b++) d.push(Math.abs(y[a]! - y[b]!));
  const p = d.length > 0 ? med(d) : 0;
  return p > 1e-12 ? p : 1;
}

/**
 * HSIC attribution (Novello, Fel, Vigouroux 2022): the Hilbert–Schmidt independence criterion
 * between each region's binary on/off mask and the target score, over quasi-Monte-Carlo designs.
 * Dependence rather than variance: a few hundred forward passes per input, whatever the number of
 * regions. Forward-only (ONNX Runtime, remote functions). Every element gets its region's score.
 *
 * Cost: `batch × designs` forward rows, checked before any work.
 * @see Novello, Fel, Vigouroux (2022), https://arxiv.org/abs/2206.06219
 */
export class Hsic implements Attributor<HsicOptions> {
  readonly id = 'hsic' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'Hsic');
  }

  cost(shape: readonly number[], opts: Partial<HsicOptions> = {}): number {
    return (shape[0] ?? 1) * (opts.designs ?? hsic.defaults.designs);
  }

  async attribute(x: tf.Tensor, opts: HsicOptions): Promise<FeatureAttribution> {
    return attributeByDesign(this.model, x, opts, {
      id: this.id,
      fn: 'Hsic.attribute',
      designs: opts?.designs ?? hsic.defaults.designs,
      seed: opts?.seed ?? hsic.defaults.seed,
      rowsPerInput: (_dims, designs) => designs,
      design: binaryDesign,
      estimate: hsicScores,
    });
  }
}

/** HSIC attribution's one declaration: catalogue entry, CLI flags and defaults. */
export const hsic = defineMethod({
  id: 'hsic',
  title: 'HSIC attribution',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × designs',
  reference: 'Novello et al. 2022, arXiv:2206.06219',
  stochastic: true,
  output: 'feature',
  options: {
    ...gsaGridOption,
    ...maskOption,
    designs: { type: 'int', help: 'binary mask designs per input', default: 500 },
    ...gsaPerturbationOptions,
    ...seedOption,
  },
  create: (m: ModelAdapter) => new Hsic(m),
});
