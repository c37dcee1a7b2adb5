// Gradient similarity: the plain dot product (grad-dot) or cosine (grad-cos) of loss gradients.
import type { DataAttribution } from '../core/result.js';
import { gradientProducts } from './internal/products.js';
import { checkData, dataResult, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import { RandomProjection, type ProjectionKind } from './projection.js';

export interface GradientSimilarityOptions extends DataRunOptions {
  /** Project gradients to this many dimensions first (seeded, see RandomProjection). Default: no projection. */
  readonly projectionDim?: number;
  readonly projection?: ProjectionKind;
}

/**
 * grad-dot: score[i, j] = ∇ℓ_iᵀ ∇ℓ_j at the trained parameters (one gradient step on j lowers ℓ_i
 * when > 0, so removing j is predicted to raise it: a proponent); grad-cos: the same for unit
 * gradients. Influence with H = I, up to the 1/n scale.
 *
 * Cost: one gradient pass over the test set and one over the training set; memory m·p.
 * @see Charpiat et al. (2019), "Input Similarity from the Neural Network Perspective"; dattri
 */
export class GradientSimilarity {
  constructor(
    private readonly model: OnnxTrainingModel,
    readonly id: 'grad-dot' | 'grad-cos' = 'grad-dot',
    private readonly defaults: GradientSimilarityOptions = {},
  ) {}

  async attribute(train: Examples, test: Examples, options: GradientSimilarityOptions = {}): Promise<DataAttribution> {
    const fn = 'GradientSimilarity.attribute';
    const o = { ...this.defaults, ...options };
    const loss = o.loss ?? 'cross-entropy';
    const { n, m } = checkData(this.model, train, test, loss, fn);
    const projection = o.projectionDim === undefined ? undefined : new RandomProjection(this.model.parameterCount, o.projectionDim, o.seed ?? 0, o.projection ?? 'rademacher');
    const budget = startBudget(o, n + m, fn);
    const scores = await gradientProducts(this.model, train, test, loss, { budget, scale: 1, normalize: this.id === 'grad-cos', ...(projection ? { projection } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) });
    return dataResult(this.id, scores, m, n, budget);
  }
}
