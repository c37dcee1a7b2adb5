import type * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../core/errors.js';
import type { Baseline } from '../core/types.js';
import type { FeatureMask } from '../attr/masks.js';
import type { ModelAdapter } from '../models/model.js';
import { complexity, sparseness } from '../metrics/complexity.js';
import { deletionCurve, insertionCurve } from '../metrics/deletion.js';
import { infidelity } from '../metrics/infidelity.js';
import { muFidelity } from '../metrics/mufidelity.js';
import { roadCurve } from '../metrics/road.js';

/** The metrics a job scores per input, and whether higher values are better. */
export const JOB_METRICS = { deletion: false, insertion: true, infidelity: false, mufidelity: true, road: false, sparseness: true, complexity: false } as const;
export type JobMetric = keyof typeof JOB_METRICS;

/** Methods whose attributions are multiplied by (x − b): infidelity divides the perturbation accordingly (Captum's decorator). */
const MULTIPLIED_BY_INPUTS = new Set<string>(['input-x-gradient', 'integrated-gradients', 'gradient-shap', 'expected-gradients']);

/** `--metrics a,b` checked against {@link JOB_METRICS}. */
export function parseJobMetrics(list: string): JobMetric[] {
  const names = [...new Set(list.split(',').map((m) => m.trim()).filter(Boolean))];
  for (const m of names) {
    if (!(m in JOB_METRICS)) throw new InvalidArgumentError(`Unknown metric '${m}' for a job; metrics: ${Object.keys(JOB_METRICS).join(', ')}`, { arg: 'metrics', value: m });
  }
  return names as JobMetric[];
}

/** What a metric needs besides the model, the input and its attribution. */
export interface MetricContext {
  readonly method: string;
  readonly target: number;
  readonly seed: number;
  /** Points on deletion/insertion curves. */
  readonly steps: number;
  /** Perturbations for infidelity and µ-fidelity. */
  readonly samples: number;
  readonly batchSize: number;
  readonly baselines?: Baseline;
  readonly featureMask?: FeatureMask;
  readonly signal?: AbortSignal;
}

/**
 * One metric of one input (`x` is `[1, …]`, `attribution` its attribution for `ctx.target`):
 * AUC of the deletion/insertion/ROAD curve, infidelity, µ-fidelity, sparseness (Gini) or complexity
 * (entropy), as `attrib evaluate` computes them, in fixed chunks (reproducible to the last bit).
 *
 * Cost: deletion/insertion `steps + 1` forward rows, ROAD about as many, infidelity `samples`,
 * µ-fidelity `max(samples, 32)`; sparseness and complexity none.
 */
export async function scoreMetric(metric: JobMetric, model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, ctx: MetricContext): Promise<number> {
  const common = { target: ctx.target, seed: ctx.seed, batchSize: ctx.batchSize, fixedChunks: true, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.baselines !== undefined ? { baselines: ctx.baselines } : {}) };
  const mask = ctx.featureMask ? { featureMask: ctx.featureMask } : {};
  let perRow: ArrayLike<number>;
  switch (metric) {
    case 'deletion':
    case 'insertion':
      perRow = (await (metric === 'deletion' ? deletionCurve : insertionCurve)(model, x, attribution, { ...common, steps: ctx.steps, ...mask })).auc;
      break;
    case 'infidelity':
      perRow = await infidelity(model, x, attribution, { ...common, samples: ctx.samples, multiplyByInputs: MULTIPLIED_BY_INPUTS.has(ctx.method) });
      break;
    case 'mufidelity':
      perRow = await muFidelity(model, x, attribution, { ...common, samples: Math.max(ctx.samples, 32), ...mask });
      break;
    case 'road':
      perRow = (await roadCurve(model, x, attribution, { ...common, order: 'morf' })).auc;
      break;
    case 'sparseness':
      perRow = await sparseness(attribution);
      break;
    case 'complexity':
      perRow = await complexity(attribution);
      break;
  }
  return perRow[0]!;
}
