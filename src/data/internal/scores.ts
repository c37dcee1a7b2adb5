// What the data attribution methods share: scoring test-side vectors against streamed training
// gradients, checking the data, and wrapping scores as a DataAttribution.
import * as tf from '@tensorflow/tfjs-core';
import { assertHostAllocation } from '../../core/assert.js';
import { Budget } from '../../core/budget.js';
import { CapabilityError, InvalidArgumentError } from '../../core/errors.js';
import { DataAttribution } from '../../core/result.js';
import type { RunControl } from '../../core/types.js';
import { forEachGradient, gradientBatchRows, type GradientStreamOptions } from '../gradients.js';
import { LOSSES, type LossName } from '../loss.js';
import { checkTrainingSet, rowCount, type TrainingSet } from '../rows.js';
import type { OnnxTrainingModel } from '../onnx/training-model.js';

/** Options every training-data attribution method takes. */
export interface DataRunOptions extends RunControl {
  /** The training loss ℓ. Default 'cross-entropy'. */
  readonly loss?: LossName;
  /**
   * Memory budget of one batch of the training set, in bytes: its per-example gradients, inputs and
   * targets as doubles, 8·(p + d + t) per row (d inputs, t targets). Default: 2²² gradient doubles
   * (32 MiB), at most 1,024 rows. The training set is read from the {@link TrainingSet} and streamed in
   * batches of ⌊batchBytes / 8(p + d + t)⌋ rows (at least one), so what a method holds besides the test
   * side, its curvature (Hessian, kernel or Kronecker factors) and the [m × n] scores does not grow
   * with n. `batchSize`, when given, wins.
   */
  readonly batchBytes?: number;
}

/**
 * scores[i, j] = scale · left_iᵀ g_j over the training gradients g_j, streamed batch by batch
 * (`left` is [m, p]); `map` may transform each batch of gradients first (projection, normalisation).
 */
export async function scoreAgainstTrain(
  model: OnnxTrainingModel,
  train: TrainingSet,
  loss: LossName,
  left: Float64Array,
  m: number,
  scale: number,
  opts: GradientStreamOptions,
  map?: (grads: Float64Array, rows: number) => Float64Array,
  into?: Float64Array,
): Promise<Float64Array> {
  const n = rowCount(train);
  const scores = into ?? new Float64Array(m * n);
  await forEachGradient(model, train, loss, opts, (c) => {
    const g = map ? map(c.grads, c.rows) : c.grads;
    const d = g.length / c.rows;
    for (let i = 0; i < m; i++) {
      for (let r = 0; r < c.rows; r++) {
        let s = 0;
        const lo = i * d;
        const go = r * d;
        for (let k = 0; k < d; k++) s += left[lo + k]! * g[go + k]!;
        scores[i * n + c.start + r]! += scale * s;
      }
    }
  });
  return scores;
}

/**
 * Validates the loss, the training set (a row source block by block, `blockRows` at a time) and the
 * test set against the model; returns n_train, n_test.
 */
export async function checkData(model: OnnxTrainingModel, train: TrainingSet, test: TrainingSet, loss: LossName, blockRows: number, fn: string): Promise<{ n: number; m: number }> {
  if (!LOSSES.includes(loss)) throw new InvalidArgumentError(`Argument 'loss' passed to '${fn}' must be one of ${LOSSES.join(', ')}, got ${String(loss)}`, { arg: 'loss', fn });
  const n = await checkTrainingSet(train, model.rowShape, model.units, loss, blockRows, 'train', fn);
  const m = await checkTrainingSet(test, model.rowShape, model.units, loss, blockRows, 'test', fn);
  return { n, m };
}

/** A non-negative finite number option. */
export function nonNegative(v: number, arg: string, fn: string): number {
  if (!(Number.isFinite(v) && v >= 0)) throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a finite number ≥ 0, got ${v}`, { arg, fn, value: v });
  return v;
}

export const startBudget = (control: RunControl, total: number, fn: string): Budget => Budget.start(control, { total: Math.min(total, 2 ** 24), fn, exact: false });

/** The scores [m × n] as a DataAttribution (float32 values, owned by the result). */
export function dataResult(method: string, scores: Float64Array, m: number, n: number, budget: Budget): DataAttribution {
  const { evaluations, elapsedMs } = budget.finish();
  return new DataAttribution(method, tf.tensor2d(Float32Array.from(scores), [m, n]), { evaluations, elapsedMs, truncated: false });
}

/**
 * The start of every method's `attribute`: options over the method's defaults, the loss (default
 * cross-entropy; `only` refuses any other with `capability_missing`), and the checked data sizes.
 */
export async function prepareRun<O extends DataRunOptions>(model: OnnxTrainingModel, train: TrainingSet, test: TrainingSet, defaults: O, options: O, fn: string, only?: LossName): Promise<{ o: O; loss: LossName; n: number; m: number }> {
  const merged = { ...defaults, ...options };
  const bytes = merged.batchBytes;
  if (bytes !== undefined && !(Number.isFinite(bytes) && bytes > 0)) throw new InvalidArgumentError(`Argument 'batchBytes' passed to '${fn}' must be a positive number of bytes, got ${bytes}`, { arg: 'batchBytes', fn });
  const loss = merged.loss ?? 'cross-entropy';
  // the memory budget becomes rows per batch: a row's gradient, inputs and targets, in doubles
  const rowDoubles = model.parameterCount + model.rowShape.reduce((a, b) => a * b, 1) + (loss === 'mse' ? model.units : 1);
  const o = bytes !== undefined && merged.batchSize === undefined ? { ...merged, batchSize: Math.max(1, Math.floor(bytes / (8 * rowDoubles))) } : merged;
  if (only && loss !== only) throw new CapabilityError(`'${fn}' needs loss '${only}', got '${loss}'`, { fn, loss });
  const sizes = await checkData(model, train, test, loss, gradientBatchRows(model.parameterCount, Math.max(1, rowCount(train)), o.batchSize), fn);
  assertHostAllocation(sizes.n * sizes.m, 'test', fn); // the scores
  return { o, loss, ...sizes };
}

/** A non-empty list of models (checkpoints, an ensemble) that share one parameter count. */
export function modelList(models: OnnxTrainingModel | readonly OnnxTrainingModel[], arg: string, fn: string): readonly OnnxTrainingModel[] {
  const list: readonly OnnxTrainingModel[] = Array.isArray(models) ? models : [models as OnnxTrainingModel];
  if (list.length === 0) throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must hold at least one model`, { arg, fn });
  const p = list[0]!.parameterCount;
  list.forEach((m, c) => {
    if (m.parameterCount !== p) throw new InvalidArgumentError(`Model ${c} of '${arg}' passed to '${fn}' has ${m.parameterCount} parameters, the first has ${p}; they must share one architecture`, { arg, fn, index: c });
  });
  return list;
}

/** A method over several models of one architecture (TracIn's checkpoints, TRAK's ensemble) with its default options. */
export abstract class MultiModelMethod<O extends DataRunOptions> {
  protected readonly models: readonly OnnxTrainingModel[];
  constructor(models: OnnxTrainingModel | readonly OnnxTrainingModel[], protected readonly defaults: O, arg: string, fn: string) {
    this.models = modelList(models, arg, fn);
  }
}
