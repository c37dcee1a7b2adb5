// TracIn-CP: gradient dot products summed over training checkpoints, weighted by learning rates.
import { InvalidArgumentError } from '../core/errors.js';
import type { DataAttribution } from '../core/result.js';
import { gradientProducts } from './internal/products.js';
import { dataResult, MultiModelMethod, prepareRun, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import type { TrainingSet } from './rows.js';
import { projectionFor, type ProjectionOptions } from './projection.js';

/** TracIn's options; a projection is drawn afresh per checkpoint (seed + its index). */
export interface TracInOptions extends DataRunOptions, ProjectionOptions {
  /** η_c of each checkpoint (the learning rate in use there). Default 1 for every checkpoint. */
  readonly learningRates?: readonly number[];
}

/**
 * TracIn-CP: score[i, j] = Σ_c η_c ∇ℓ_i(θ_c)ᵀ ∇ℓ_j(θ_c) over checkpoints θ_c (> 0: training on j
 * lowered ℓ_i along the run, so j is a proponent). The checkpoints must share one architecture.
 *
 * Cost: per checkpoint, one gradient pass over the test and one over the training set; memory m·p plus
 * one batch of training gradients and rows (`train` may be a row source, read a batch at a time).
 * @see Pruthi et al. (2020), https://arxiv.org/abs/2002.08484
 */
export class TracIn extends MultiModelMethod<TracInOptions> {
  readonly id = 'tracin' as const;
  constructor(checkpoints: OnnxTrainingModel | readonly OnnxTrainingModel[], defaults: TracInOptions = {}) {
    super(checkpoints, defaults, 'checkpoints', 'TracIn');
  }

  async attribute(train: TrainingSet, test: Examples, options: TracInOptions = {}): Promise<DataAttribution> {
    const fn = 'TracIn.attribute';
    const { o, loss, n, m } = await prepareRun(this.models[0]!, train, test, this.defaults, options, fn);
    const rates = o.learningRates ?? this.models.map(() => 1);
    if (rates.length !== this.models.length || rates.some((r) => !Number.isFinite(r))) {
      throw new InvalidArgumentError(`Argument 'learningRates' passed to '${fn}' must hold one finite number per checkpoint (${this.models.length}), got [${rates.join(', ')}]`, { arg: 'learningRates', fn });
    }
    const budget = startBudget(o, (n + m) * this.models.length, fn);
    const scores = new Float64Array(m * n);
    for (const [c, model] of this.models.entries()) {
      const projection = projectionFor(o, model, c);
      await gradientProducts(model, train, test, loss, { budget, scale: rates[c]!, into: scores, ...(projection ? { projection } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) });
    }
    return dataResult(this.id, scores, m, n, budget);
  }
}
