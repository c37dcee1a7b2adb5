// Gradient inner products between a test set and a streamed training set at one parameter vector,
// optionally projected and normalised (grad-dot, grad-cos, TracIn).
import type { Budget } from '../../core/budget.js';
import { gradientMatrix } from '../gradients.js';
import type { Examples, LossName } from '../loss.js';
import type { TrainingSet } from '../rows.js';
import type { OnnxTrainingModel } from '../onnx/training-model.js';
import type { GradientProjection } from '../projection.js';
import { scoreAgainstTrain } from './scores.js';

export interface ProductOptions {
  readonly projection?: GradientProjection;
  /** Divide every gradient by its norm (cosine similarity). */
  readonly normalize?: boolean;
  readonly scale: number;
  readonly budget: Budget;
  readonly batchSize?: number;
  readonly into?: Float64Array;
}

function unitRows(g: Float64Array, rows: number): Float64Array {
  const d = g.length / rows;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += g[r * d + k]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < d; k++) g[r * d + k]! *= inv;
  }
  return g;
}

/** scores[i, j] (+)= scale · ĝ_iᵀ ĝ_j, ĝ the (projected, normalised) loss gradients. */
export async function gradientProducts(model: OnnxTrainingModel, train: TrainingSet, test: Examples, loss: LossName, o: ProductOptions): Promise<Float64Array> {
  const m = test.x.shape[0]!;
  const pass = { budget: o.budget, ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
  const map = (g: Float64Array, rows: number): Float64Array => {
    const projected = o.projection ? o.projection.project(g, rows) : g;
    return o.normalize ? unitRows(projected === g ? g.slice() : projected, rows) : projected;
  };
  const left = map((await gradientMatrix(model, test, loss, { ...pass, phase: 'test gradients' })).grads, m);
  return scoreAgainstTrain(model, train, loss, left, m, o.scale, { ...pass, phase: 'training gradients' }, map, o.into);
}
