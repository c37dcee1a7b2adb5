// Judging attribution scores by actually retraining: the LDS over random α-subsets and top-k
// removal, with attrib's deterministic trainer or a user training function.
import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import type { RunControl } from '../core/types.js';
import { linearDatamodelingScore } from './evaluation.js';
import { gradientMatrix } from './gradients.js';
import { startBudget } from './internal/scores.js';
import type { Examples } from './loss.js';
import { trainFullBatch, type TrainerOptions } from './magic.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import type { TrainingSet } from './rows.js';

/**
 * Trains on the training examples kept (`keep[j]` = 1 keeps example j, 0 removes it) and returns the
 * test losses [m] of the model it trained. Deterministic retraining makes the ground truth exact.
 */
export type Retrain = (keep: Float64Array) => Promise<Float64Array>;

/**
 * A {@link Retrain} by attrib's trainer {@link trainFullBatch}: the same fixed θ_0, steps and step size
 * with the data weights w = keep, then the test losses at the trained θ. Cost per call: T passes over
 * the training set and one over the test set.
 */
export function trainerRetrain(model: OnnxTrainingModel, train: TrainingSet, test: Examples, trainer: TrainerOptions): Retrain {
  const loss = trainer.loss ?? 'cross-entropy';
  return async (keep) => {
    const { theta } = await trainFullBatch(model, train, { ...trainer, weights: keep });
    return (await gradientMatrix(model, test, loss, { theta })).value;
  };
}

const positiveInt = (v: number, arg: string, fn: string): number => {
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a positive integer, got ${v}`, { arg, fn });
  return v;
};

function checkScores(scores: ArrayLike<number>, m: number, n: number, fn: string): void {
  if (scores.length !== m * n) throw new InvalidArgumentError(`Argument 'scores' passed to '${fn}' must hold ${m} × ${n} values, got ${scores.length}`, { arg: 'scores', fn });
}

/** Options of {@link retrainedLds}. */
export interface RetrainedLdsOptions extends RunControl {
  /** Fraction of the training set each subset keeps. Default 0.5 (dattri's). */
  readonly alpha?: number;
  /** Number of random subsets (retrainings). Default 50. */
  readonly subsets?: number;
}

/**
 * dattri's LDS with its ground truth made here: `subsets` random subsets of round(α·n) training
 * examples (drawn with `seed`, default 0), each retrained by `retrain`, then
 * {@link linearDatamodelingScore} of `scores` [m × n] against the retrained test losses.
 * Cost: `subsets` retrainings. Same seed, same subsets.
 */
export async function retrainedLds(scores: ArrayLike<number>, m: number, n: number, retrain: Retrain, o: RetrainedLdsOptions = {}): Promise<{ lds: number; perTest: Float64Array; undefinedTests: number; subsets: Float64Array; losses: Float64Array }> {
  const fn = 'retrainedLds';
  checkScores(scores, m, n, fn);
  const alpha = o.alpha ?? 0.5;
  if (!(alpha > 0 && alpha < 1)) throw new InvalidArgumentError(`Argument 'alpha' passed to '${fn}' must be in (0, 1), got ${alpha}`, { arg: 'alpha', fn });
  const count = positiveInt(o.subsets ?? 50, 'subsets', fn);
  if (count < 2) throw new InvalidArgumentError(`Argument 'subsets' passed to '${fn}' must be at least 2 (a rank correlation over subsets), got ${count}`, { arg: 'subsets', fn });
  const keep = Math.round(alpha * n);
  const rng = new Rng(o.seed ?? 0);
  const budget = startBudget(o, count, fn);
  const subsets = new Float64Array(count * n);
  const losses = new Float64Array(count * m);
  for (let s = 0; s < count; s++) {
    await budget.checkpoint(1, 'retraining');
    const order = Array.from({ length: n }, (_, j) => j);
    for (let j = n - 1; j > 0; j--) {
      const r = rng.int(j + 1);
      [order[j], order[r]] = [order[r]!, order[j]!];
    }
    for (const j of order.slice(0, keep)) subsets[s * n + j] = 1;
    losses.set(await retrain(subsets.slice(s * n, (s + 1) * n)), s * m);
  }
  budget.finish();
  return { ...linearDatamodelingScore(scores, m, n, subsets, losses), subsets, losses };
}

/**
 * Top-k removal: for each test example i, retrain without its k highest-scored training examples (its
 * top proponents) and measure the rise of ℓ_i over training on everything. Better scores remove the
 * examples that matter most: a larger rise. Cost: m + 1 retrainings.
 * @returns the rise per test example and its mean.
 */
export async function topKRemoval(scores: ArrayLike<number>, m: number, n: number, retrain: Retrain, k: number, control: RunControl = {}): Promise<{ rise: Float64Array; meanRise: number }> {
  const fn = 'topKRemoval';
  checkScores(scores, m, n, fn);
  if (positiveInt(k, 'k', fn) >= n) throw new InvalidArgumentError(`Argument 'k' passed to '${fn}' must be below the training-set size ${n}, got ${k}`, { arg: 'k', fn });
  const budget = startBudget(control, m + 1, fn);
  await budget.checkpoint(1, 'retraining');
  const full = await retrain(new Float64Array(n).fill(1));
  const rise = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    await budget.checkpoint(1, 'retraining');
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => scores[i * n + b]! - scores[i * n + a]!);
    const keep = new Float64Array(n).fill(1);
    for (const j of order.slice(0, k)) keep[j] = 0;
    rise[i] = (await retrain(keep))[i]! - full[i]!;
  }
  budget.finish();
  return { rise, meanRise: rise.reduce((a, b) => a + b, 0) / m };
}
