// MAGIC: exact first-order data attribution through a deterministic training run, by differentiating
// the whole run with respect to per-example data weights (Ilyas, Engstrom et al. 2025, "MAGIC").
import { InvalidArgumentError } from '../core/errors.js';
import type { Budget } from '../core/budget.js';
import type { DataAttribution } from '../core/result.js';
import { gradientMatrix, objectiveGradient } from './gradients.js';
import { hessianVectorProduct } from './hessian.js';
import { dataResult, nonNegative, prepareRun, scoreAgainstTrain, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples, LossName } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import { rowCount, type TrainingSet } from './rows.js';

/** attrib's deterministic trainer: full-batch gradient descent with a fixed step and number of steps. */
export interface TrainerOptions {
  /** Gradient steps T. */
  readonly steps: number;
  /** Step size η. */
  readonly learningRate: number;
  /** λ of the objective (1/n) Σ w_j ℓ_j + (λ/2)‖θ‖². Default 0. */
  readonly l2?: number;
  readonly loss?: LossName;
  /** θ_0. Default: the model's stored parameters. */
  readonly init?: Float64Array;
  /** Data weights w_j (1 keeps, 0 removes an example). Default all 1. */
  readonly weights?: ArrayLike<number>;
  readonly batchSize?: number;
}

function checkTrainer(o: TrainerOptions, p: number, n: number, fn: string): void {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new InvalidArgumentError(`Argument 'steps' passed to '${fn}' must be a positive integer, got ${o.steps}`, { arg: 'steps', fn });
  if (!(Number.isFinite(o.learningRate) && o.learningRate > 0)) throw new InvalidArgumentError(`Argument 'learningRate' passed to '${fn}' must be a positive number, got ${o.learningRate}`, { arg: 'learningRate', fn });
  if (o.init && o.init.length !== p) throw new InvalidArgumentError(`Argument 'init' passed to '${fn}' must hold ${p} parameters, got ${o.init.length}`, { arg: 'init', fn });
  if (o.weights && o.weights.length !== n) throw new InvalidArgumentError(`Argument 'weights' passed to '${fn}' must hold one weight per training example (${n}), got ${o.weights.length}`, { arg: 'weights', fn });
}

/**
 * Trains by full-batch gradient descent θ_{t+1} = θ_t − η ∇J_w(θ_t), J_w = (1/n) Σ w_j ℓ_j + (λ/2)‖θ‖²,
 * deterministically in float64; returns θ_T and, with `keepEvery` = c, the iterates θ_0, θ_c, θ_2c, …
 * (`trajectory[t / c]`). Cost: T passes over the training set.
 */
export async function trainFullBatch(model: OnnxTrainingModel, train: TrainingSet, o: TrainerOptions, run: { readonly budget?: Budget; readonly keepEvery?: number } = {}): Promise<{ theta: Float64Array; trajectory: Float64Array[] }> {
  const n = rowCount(train);
  checkTrainer(o, model.parameterCount, n, 'trainFullBatch');
  const l2 = nonNegative(o.l2 ?? 0, 'l2', 'trainFullBatch');
  let theta = (o.init ?? model.theta()).slice();
  const trajectory: Float64Array[] = [];
  const pass = { ...(run.budget ? { budget: run.budget } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}), ...(o.weights ? { rowWeights: o.weights } : {}), phase: 'training' };
  for (let t = 0; t < o.steps; t++) {
    if (run.keepEvery && t % run.keepEvery === 0) trajectory.push(theta);
    const g = await objectiveGradient(model, train, o.loss ?? 'cross-entropy', l2, theta, pass);
    theta = theta.map((v, k) => v - o.learningRate * g[k]!);
  }
  return { theta, trajectory };
}

/** MAGIC's options: run control and the trainer's settings. */
export type MagicOptions = DataRunOptions &
  Omit<TrainerOptions, 'loss' | 'weights' | 'batchSize'> & {
    /** Iterates kept for the replay (the rest are recomputed segment by segment). Default ⌈√T⌉. */
    readonly checkpoints?: number;
  };

/**
 * MAGIC: trains the model with {@link trainFullBatch} from `init` (all weights w = 1) and returns the
 * exact derivative of each test loss at θ_T with respect to each training example's weight, through
 * the whole run, negated: score[i, j] = −dℓ_i(θ_T)/dw_j = (η/n) Σ_t a_{t+1}ᵀ ∇ℓ_j(θ_t), with the
 * adjoint a_T = ∇ℓ_i(θ_T), a_t = a_{t+1} − η ∇²J(θ_t) a_{t+1}. > 0: removing j (w_j: 1 → 0) is
 * predicted to raise ℓ_i. This is the first-order effect of removing j under this training
 * procedure, not an approximation of an optimum.
 *
 * Cost: T passes to train, T more to recompute the iterates between checkpoints, then per step one
 * pass of per-example gradients and 2m Hessian–vector passes (central differences of the float64
 * gradient). Memory: C checkpoints plus one segment of ⌈T/C⌉ iterates (C = ⌈√T⌉ by default: 2√T·p),
 * plus m·p adjoints and one batch of training rows (read anew, block by block, for every step: full-batch
 * training needs all rows per step) — independent of the training-set size.
 * @see Ilyas et al. (2025), "MAGIC: Near-Optimal Data Attribution for Deep Learning", https://arxiv.org/abs/2504.16430
 */
export class Magic {
  readonly id = 'magic' as const;
  constructor(
    private readonly model: OnnxTrainingModel,
    private readonly defaults: Partial<MagicOptions> = {},
  ) {}

  async attribute(train: TrainingSet, test: Examples, options: Partial<MagicOptions> = {}): Promise<DataAttribution> {
    const fn = 'Magic.attribute';
    const { o, loss, n, m } = await prepareRun(this.model, train, test, this.defaults, options, fn);
    const trainer = { steps: o.steps ?? NaN, learningRate: o.learningRate ?? NaN, loss, ...(o.l2 === undefined ? {} : { l2: o.l2 }), ...(o.init ? { init: o.init } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
    checkTrainer(trainer, this.model.parameterCount, n, fn);
    const T = trainer.steps;
    const eta = trainer.learningRate;
    const l2 = trainer.l2 ?? 0;
    const budget = startBudget(o, T * n * (3 + 2 * m) + m, fn);
    const kept = o.checkpoints ?? Math.ceil(Math.sqrt(T));
    if (!Number.isInteger(kept) || kept < 1) throw new InvalidArgumentError(`Argument 'checkpoints' passed to '${fn}' must be a positive integer, got ${kept}`, { arg: 'checkpoints', fn });
    const every = Math.ceil(T / Math.min(kept, T));
    const pass = { budget, ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
    const { theta, trajectory } = await trainFullBatch(this.model, train, trainer, { budget, keepEvery: every });
    const p = this.model.parameterCount;
    const adjoints = (await gradientMatrix(this.model, test, loss, { ...pass, theta, phase: 'test gradients' })).grads;
    const scores = new Float64Array(m * n);
    let segment: Float64Array[] = [];
    for (let t = T - 1; t >= 0; t--) {
      const c = Math.floor(t / every);
      if (t === T - 1 || t % every === every - 1) {
        // replay: recompute θ_{c·every} … θ_t from the checkpoint (the same deterministic steps)
        segment = (await trainFullBatch(this.model, train, { ...trainer, init: trajectory[c]!, steps: t - c * every + 1 }, { budget, keepEvery: 1 })).trajectory;
      }
      const at = segment[t - c * every]!;
      // score += (η/n) a_{t+1}ᵀ ∇ℓ_j(θ_t), then a_t = a_{t+1} − η H_t a_{t+1}
      await scoreAgainstTrain(this.model, train, loss, adjoints, m, eta / n, { ...pass, theta: at, phase: 'replay' }, undefined, scores);
      const hvp = hessianVectorProduct(this.model, train, loss, l2, 0, { ...pass, theta: at });
      for (let i = 0; i < m; i++) {
        const a = adjoints.subarray(i * p, (i + 1) * p);
        const ha = await hvp(a);
        for (let k = 0; k < p; k++) a[k]! -= eta * ha[k]!;
      }
    }
    return dataResult(this.id, scores, m, n, budget);
  }
}
