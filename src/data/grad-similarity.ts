// Gradient similarity: the plain dot product (grad-dot) or cosine (grad-cos) of loss gradients.
import type { DataAttribution } from '../core/result.js';
import { gradientProducts } from './internal/products.js';
import { dataResult, prepareRun, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import type { TrainingSet } from './rows.js';
import { projectionFor, type ProjectionOptions } from './projection.js';

/** Options of grad-dot and grad-cos. */
export type GradientSimilarityOptions = DataRunOptions & ProjectionOptions;

/**
 * grad-dot: score[i, j] = ∇ℓ_iᵀ ∇ℓ_j at the trained parameters (one gradient step on j lowers ℓ_i
 * when > 0, so removing j is predicted to raise it: a proponent); grad-cos: the same for unit
 * gradients. Influence with H = I, up to the 1/n scale.
 *
 * Cost: one gradient pass over the test set and one over the training set; memory m·p plus one batch
 * of training gradients and rows (`train` may be a row source, read a batch at a time).
 * @see Charpiat et al. (2019), "Input Similarity from the Neural Network Perspective"; dattri
 */
export class GradientSimilarity {
  constructor(
    private readonly model: OnnxTrainingModel,
    readonly id: 'grad-dot' | 'grad-cos' = 'grad-dot',
    private readonly defaults: GradientSimilarityOptions = {},
  ) {}

  async attribute(train: TrainingSet, test: Examples, options: GradientSimilarityOptions = {}): Promise<DataAttribution> {
    const fn = 'GradientSimilarity.attribute';
    const { o, loss, n, m } = await prepareRun(this.model, train, test, this.defaults, options, fn);
    const projection = projectionFor(o, this.model);
    const budget = startBudget(o, n + m, fn);
    const scores = await gradientProducts(this.model, train, test, loss, { budget, scale: 1, normalize: this.id === 'grad-cos', ...(projection ? { projection } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) });
    return dataResult(this.id, scores, m, n, budget);
  }
}
