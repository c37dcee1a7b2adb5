import * as tf from '@tensorflow/tfjs-core';
import type { OptionDecls } from '../../core/method.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { assertBatch, assertNonNegative, assertOneOf, assertPositiveInt } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import type { Budget } from '../../core/budget.js';
import { targetList, type ResolvedTarget } from '../../core/target.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import type { ModelAdapter } from '../../models/model.js';
import { scoreBatch } from '../internal/perturb.js';
import { prepare } from '../internal/prepare.js';
import { resolveFeatureMask, type FeatureGroups, type FeatureMaskInput } from '../masks.js';

// Shared parts of the global-sensitivity-analysis explainers (Sobol, HSIC): regions as variables,
// mask designs that perturb them, and the model's scores on a design.

export const SOBOL_PERTURBATIONS = ['inpainting', 'blur', 'amplitude'] as const;
export type SobolPerturbation = (typeof SOBOL_PERTURBATIONS)[number];

/** `gridSize` of Sobol and HSIC (the region grid of images). */
export const gsaGridOption = {
  gridSize: { type: 'int', help: 'cells per side of the region grid (images)', default: 8 },
} as const satisfies OptionDecls;

/** How Sobol and HSIC masks perturb the input. */
export const gsaPerturbationOptions = {
  perturbation: { type: 'enum', values: SOBOL_PERTURBATIONS, help: 'how masks perturb the input', default: 'inpainting' },
  blurSize: { type: 'int', help: 'box blur size in pixels (perturbation blur)', default: 10 },
  amplitude: { type: 'number', help: 'σ of the amplitude perturbation', default: 1 },
} as const satisfies OptionDecls;

export interface GsaOptions extends AttributeOptions {
  /** Images: cells per side of the mask grid (the variables). Default 8. */
  readonly gridSize?: number;
  /** Other inputs (or to override the grid): an integer feature id per element; each feature is a variable. */
  readonly featureMask?: FeatureMaskInput;
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

/** Validated perturbation settings. */
export function perturbationOf(opts: GsaOptions, fn: string): { perturbation: SobolPerturbation; blurSize: number; sigma: number } {
  const perturbation = opts?.perturbation ?? gsaPerturbationOptions.perturbation.default;
  assertOneOf(perturbation, SOBOL_PERTURBATIONS, 'perturbation', fn);
  const blurSize = opts.blurSize ?? gsaPerturbationOptions.blurSize.default;
  assertPositiveInt(blurSize, 'blurSize', fn);
  const sigma = opts.amplitude ?? gsaPerturbationOptions.amplitude.default;
  assertNonNegative(sigma, 'amplitude', fn);
  return { perturbation, blurSize, sigma };
}

/** The reference each variable moves towards: the baseline, or a box-blurred copy of `x`. Host data. */
export async function perturbationReference(x: tf.Tensor, opts: GsaOptions, perturbation: SobolPerturbation, blurSize: number, fn: string): Promise<Float32Array> {
  const xd = (await x.data()) as Float32Array;
  if (perturbation === 'blur') return boxBlur(xd, x.shape, blurSize);
  const b = resolveBaseline(opts.baselines, x, fn);
  try {
    return (await b.data()) as Float32Array;
  } finally {
    b.dispose();
  }
}

/** The model's target scores for row `row` of the input under every mask of a design ([rows × dims] in [0, 1]). */
export async function scoreDesign(
  job: {
    readonly model: ModelAdapter;
    readonly design: Float32Array;
    readonly dims: number;
    readonly rows: number;
    readonly groups: FeatureGroups;
    readonly xd: Float32Array;
    readonly bd: Float32Array;
    readonly row: number;
    readonly rowShape: readonly number[];
    readonly perturbation: SobolPerturbation;
    readonly sigma: number;
    readonly target: ResolvedTarget;
    readonly run: Budget;
    readonly batchSize: number;
    readonly fn: string;
  },
  outputs: Float32Array,
): Promise<void> {
  const { design, dims, groups, xd, bd, row: i, perturbation, sigma } = job;
  const e = groups.featureOf.length;
  for (const [s, t] of chunks(job.rows, job.batchSize, job.run)) {
    await job.run.checkpoint(t - s);
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
    outputs.set(await scoreBatch(job.model, batch, [t - s, ...job.rowShape], new Int32Array(t - s).fill(i), job.target, job.fn), s);
  }
}

/** What a global-sensitivity explainer adds to the shared body: its design and its estimator. */
export interface GsaEstimator {
  readonly id: MethodId;
  readonly fn: string;
  /** Designs requested (validated here). */
  readonly designs: number;
  /** The seed of the design's random shift (the method's declared default when not given). */
  readonly seed: number;
  /** Model rows per input row for `dims` variables. */
  rowsPerInput(dims: number, designs: number): number;
  /** The mask design, `rowsPerInput` rows of `dims` values in [0, 1], row-major. */
  design(dims: number, designs: number, opts: { scramble?: boolean; seed?: number }): Float32Array;
  /** One score per variable from the outputs on the design. */
  estimate(design: Float32Array, outputs: Float32Array, designs: number, dims: number): Float64Array;
}

/**
 * The body Sobol and HSIC share: validate, build the variables and the design, score every input row
 * on it, and give every element its variable's estimate. The caller owns the returned result.
 */
export async function attributeByDesign(model0: ModelAdapter, x: tf.Tensor, opts: GsaOptions, est: GsaEstimator): Promise<FeatureAttribution> {
  const { fn, designs } = est;
  assertBatch(x, 'x', fn);
  assertPositiveInt(designs, 'designs', fn);
  const { perturbation, blurSize, sigma } = perturbationOf(opts, fn);
  const groups = regionVariables(x.shape, opts, fn);
  const dims = groups.count;
  const perRow = est.rowsPerInput(dims, designs);
  const { model, run, target, batchSize, n } = await prepare(model0, x, opts, { fn, cost: x.shape[0]! * perRow, exact: true });
  const design = est.design(dims, designs, { scramble: opts.scramble ?? true, seed: est.seed });
  const rowShape = x.shape.slice(1);
  const e = groups.featureOf.length;
  const xd = (await x.data()) as Float32Array;
  const bd = await perturbationReference(x, opts, perturbation, blurSize, fn);
  const out = new Float32Array(n * e);
  const outputs = new Float32Array(perRow);
  for (let i = 0; i < n; i++) {
    await scoreDesign({ model, design, dims, rows: perRow, groups, xd, bd, row: i, rowShape, perturbation, sigma, target, run, batchSize, fn }, outputs);
    const scores = est.estimate(design, outputs, designs, dims);
    for (let q = 0; q < e; q++) out[i * e + q] = scores[groups.featureOf[q]!]!;
  }
  return new FeatureAttribution(est.id, tf.tensor(out, x.shape), withTargets(run.finish(), targetList(target)));
}

/** The variables: a featureMask's features, else a gridSize × gridSize grid over an image's H × W (channels shared). */
export function regionVariables(shape: readonly number[], opts: Partial<GsaOptions>, fn: string): FeatureGroups {
  const rowShape = shape.slice(1);
  if (opts.featureMask !== undefined || rowShape.length < 2) return resolveFeatureMask(opts.featureMask, rowShape, fn);
  const grid = opts.gridSize ?? gsaGridOption.gridSize.default;
  assertPositiveInt(grid, 'gridSize', fn);
  const [h, w] = [rowShape[0]!, rowShape[1]!];
  const c = rowShape.slice(2).reduce((a, b) => a * b, 1);
  const ids = new Int32Array(h * w * c);
  // nearest-neighbour upsampling of the grid, as Xplique's masks
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++) for (let k = 0; k < c; k++) ids[(y * w + xx) * c + k] = Math.floor((y * grid) / h) * grid + Math.floor((xx * grid) / w);
  return resolveFeatureMask({ ids, shape: rowShape }, rowShape, fn);
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
