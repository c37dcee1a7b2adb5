// Streams per-example gradients of a training model over a data set, one bounded batch at a time.
import { assertHostAllocation } from '../core/assert.js';
import type { Budget } from '../core/budget.js';
import { lossGrad, marginGrad, type LossName } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import { asRows, rowCount, type TrainingSet } from './rows.js';

/** Doubles one batch of per-example gradients may hold (32 MiB): rows per batch = this / p. */
export const GRADIENT_BATCH_ELEMENTS = 2 ** 22;

/** What is differentiated per example: the training loss, or TRAK's margin (classification). */
export type GradientObjective = 'loss' | 'margin';

/** One batch: rows [start, start + rows), their gradients `[rows, p]`, objective values and TRAK weights. */
export interface GradientChunk {
  readonly start: number;
  readonly rows: number;
  readonly grads: Float64Array;
  readonly value: Float64Array;
  /** 1 − p_y per row (margin objective only). */
  readonly weight?: Float64Array;
}

export interface GradientStreamOptions {
  readonly objective?: GradientObjective;
  /** Parameters to evaluate at (a checkpoint, or θ + εv). Default: the model's own. */
  readonly theta?: Float64Array;
  /** Rows per batch. Default: as many as fit {@link GRADIENT_BATCH_ELEMENTS}, at most 1024. */
  readonly batchSize?: number;
  /** Sum the rows' gradients instead of keeping them per example (`grads` is then `[p]`). */
  readonly sum?: boolean;
  /** Per-example data weights w_j multiplying each row's loss gradient (MAGIC's weighted objective). Default 1. */
  readonly rowWeights?: ArrayLike<number>;
  readonly budget?: Budget;
  readonly phase?: string;
}

/** Rows per batch for a model with p parameters. */
export const gradientBatchRows = (p: number, n: number, batchSize?: number): number => Math.max(1, Math.min(n, batchSize ?? Math.min(1024, Math.floor(GRADIENT_BATCH_ELEMENTS / Math.max(1, p)))));

/**
 * Calls `onChunk` with the per-example gradients (or their sum) of every batch of `set`, in order.
 * Memory: one batch, `batchSize × p` doubles of gradients and `batchSize` rows of inputs and targets
 * (read from `set` block by block), whatever the size of the set.
 */
export async function forEachGradient(model: OnnxTrainingModel, set: TrainingSet, loss: LossName, opts: GradientStreamOptions, onChunk: (c: GradientChunk) => void | Promise<void>): Promise<void> {
  const source = asRows(set);
  const n = source.n;
  const rows = gradientBatchRows(model.parameterCount, n, opts.batchSize);
  const objective = opts.objective ?? 'loss';
  for (let start = 0; start < n; start += rows) {
    const m = Math.min(rows, n - start);
    await opts.budget?.checkpoint(m, opts.phase);
    const { x, y } = await source.read(start, start + m);
    let value: Float64Array = new Float64Array(0);
    let weight: Float64Array | undefined;
    const { grads } = await model.gradients(
      x,
      m,
      (z) => {
        if (objective === 'margin') {
          const g = marginGrad(z, y, 0, model.units);
          (value = g.value), (weight = g.weight);
          return g.cotangent;
        }
        const g = lossGrad(loss, z, y, 0, model.units);
        value = g.value;
        const w = opts.rowWeights;
        if (w) for (let k = 0; k < g.cotangent.length; k++) g.cotangent[k]! *= w[start + Math.floor(k / model.units)]!;
        return g.cotangent;
      },
      { ...(opts.theta ? { theta: opts.theta } : {}), ...(opts.sum ? { sum: true } : {}) },
    );
    await onChunk({ start, rows: m, grads, value, ...(weight ? { weight } : {}) });
  }
}

/** All per-example gradients of `set`, `[n, p]` (for test sets and small training sets). */
export async function gradientMatrix(model: OnnxTrainingModel, set: TrainingSet, loss: LossName, opts: GradientStreamOptions = {}): Promise<{ grads: Float64Array; value: Float64Array; weight: Float64Array }> {
  const n = rowCount(set);
  const p = model.parameterCount;
  assertHostAllocation(n * p, 'examples', 'gradientMatrix');
  const grads = new Float64Array(n * p);
  const value = new Float64Array(n);
  const weight = new Float64Array(n);
  await forEachGradient(model, set, loss, opts, (c) => {
    grads.set(c.grads, c.start * p);
    value.set(c.value, c.start);
    if (c.weight) weight.set(c.weight, c.start);
  });
  return { grads, value, weight };
}

/** ∇J(θ) = (1/n) Σ_k w_k ∇ℓ_k(θ) + λθ, the gradient of the training objective (w = `opts.rowWeights`, default 1). */
export async function objectiveGradient(model: OnnxTrainingModel, set: TrainingSet, loss: LossName, l2: number, theta: Float64Array, opts: GradientStreamOptions = {}): Promise<Float64Array> {
  const n = rowCount(set);
  const total = new Float64Array(model.parameterCount);
  await forEachGradient(model, set, loss, { ...opts, theta, sum: true, objective: 'loss' }, (c) => {
    for (let k = 0; k < total.length; k++) total[k]! += c.grads[k]!;
  });
  for (let k = 0; k < total.length; k++) total[k] = total[k]! / n + l2 * theta[k]!;
  return total;
}
