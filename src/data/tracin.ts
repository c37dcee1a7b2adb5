// TracIn-CP: gradient dot products summed over training checkpoints, weighted by learning rates.
import { InvalidArgumentError } from '../core/errors.js';
import type { DataAttribution } from '../core/result.js';
import { gradientProducts } from './internal/products.js';
import { checkData, dataResult, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import { RandomProjection, type ProjectionKind } from './projection.js';

export interface TracInOptions extends DataRunOptions {
  /** η_c of each checkpoint (the learning rate in use there). Default 1 for every checkpoint. */
  readonly learningRates?: readonly number[];
  /** Project gradients to this many dimensions (a fresh seeded projection per checkpoint). Default: none. */
  readonly projectionDim?: number;
  readonly projection?: ProjectionKind;
}

/**
 * TracIn-CP: score[i, j] = Σ_c η_c ∇ℓ_i(θ_c)ᵀ ∇ℓ_j(θ_c) over checkpoints θ_c (> 0: training on j
 * lowered ℓ_i along the run, so j is a proponent). The checkpoints must share one architecture.
 *
 * Cost: per checkpoint, one gradient pass over the test and one over the training set; memory m·p.
 * @see Pruthi et al. (2020), https://arxiv.org/abs/2002.08484
 */
export class TracIn {
  readonly id = 'tracin' as const;
  private readonly checkpoints: readonly OnnxTrainingModel[];
  constructor(
    checkpoints: OnnxTrainingModel | readonly OnnxTrainingModel[],
    private readonly defaults: TracInOptions = {},
  ) {
    this.checkpoints = Array.isArray(checkpoints) ? checkpoints : [checkpoints as OnnxTrainingModel];
    if (this.checkpoints.length === 0) throw new InvalidArgumentError("Argument 'checkpoints' passed to 'TracIn' must hold at least one model", { arg: 'checkpoints', fn: 'TracIn' });
  }

  async attribute(train: Examples, test: Examples, options: TracInOptions = {}): Promise<DataAttribution> {
    const fn = 'TracIn.attribute';
    const o = { ...this.defaults, ...options };
    const loss = o.loss ?? 'cross-entropy';
    const rates = o.learningRates ?? this.checkpoints.map(() => 1);
    if (rates.length !== this.checkpoints.length || rates.some((r) => !Number.isFinite(r))) {
      throw new InvalidArgumentError(`Argument 'learningRates' passed to '${fn}' must hold one finite number per checkpoint (${this.checkpoints.length}), got [${rates.join(', ')}]`, { arg: 'learningRates', fn });
    }
    const first = this.checkpoints[0]!;
    const { n, m } = checkData(first, train, test, loss, fn);
    const budget = startBudget(o, (n + m) * this.checkpoints.length, fn);
    const scores = new Float64Array(m * n);
    for (const [c, model] of this.checkpoints.entries()) {
      if (model.parameterCount !== first.parameterCount) throw new InvalidArgumentError(`Checkpoint ${c} passed to '${fn}' has ${model.parameterCount} parameters, the first has ${first.parameterCount}; checkpoints must share one architecture`, { arg: 'checkpoints', fn, index: c });
      const projection = o.projectionDim === undefined ? undefined : new RandomProjection(model.parameterCount, o.projectionDim, (o.seed ?? 0) + c, o.projection ?? 'rademacher');
      await gradientProducts(model, train, test, loss, { budget, scale: rates[c]!, into: scores, ...(projection ? { projection } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) });
    }
    return dataResult(this.id, scores, m, n, budget);
  }
}
