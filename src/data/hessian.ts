// The Hessian of the training objective J(θ) = (1/n) Σ ℓ_k(θ) + (λ/2)‖θ‖², by central differences of
// its exact float64 gradient: column k = (∇J(θ + εe_k) − ∇J(θ − εe_k)) / 2ε. With ε = 1e-4 the
// truncation error is O(ε²) ≈ 1e-8 relative and the rounding error ≈ 1e-12: exact for these solves.
import type { Budget } from '../core/budget.js';
import { objectiveGradient } from './gradients.js';
import type { LossName } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import type { TrainingSet } from './rows.js';

/** Step of the central differences, in parameter units (and along a unit direction for products). */
export const HESSIAN_STEP = 1e-4;

export interface HessianOptions {
  readonly theta?: Float64Array;
  readonly batchSize?: number;
  readonly budget?: Budget;
}

/**
 * ∇²J(θ) [p×p] (row-major, symmetrised), the data term's Hessian plus λI.
 * Cost: 2p passes over the training set (each one forward and one backward run per batch); p² doubles.
 */
export async function exactHessian(model: OnnxTrainingModel, train: TrainingSet, loss: LossName, l2: number, opts: HessianOptions = {}): Promise<Float64Array> {
  const theta = opts.theta ?? model.theta();
  const p = theta.length;
  const h = new Float64Array(p * p);
  const pass = { ...(opts.batchSize ? { batchSize: opts.batchSize } : {}), ...(opts.budget ? { budget: opts.budget } : {}), phase: 'Hessian' };
  for (let k = 0; k < p; k++) {
    const up = theta.slice();
    up[k]! += HESSIAN_STEP;
    const down = theta.slice();
    down[k]! -= HESSIAN_STEP;
    const gu = await objectiveGradient(model, train, loss, l2, up, pass);
    const gd = await objectiveGradient(model, train, loss, l2, down, pass);
    for (let r = 0; r < p; r++) h[r * p + k] = (gu[r]! - gd[r]!) / (2 * HESSIAN_STEP);
  }
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < i; j++) {
      const s = 0.5 * (h[i * p + j]! + h[j * p + i]!);
      h[i * p + j] = s;
      h[j * p + i] = s;
    }
  }
  return h;
}

/**
 * v ↦ ∇²J(θ) v by central differences of ∇J along v (step ε/‖v‖), plus `damping`·v.
 * Cost: 2 passes over the training set per product; memory O(p).
 */
export function hessianVectorProduct(model: OnnxTrainingModel, train: TrainingSet, loss: LossName, l2: number, damping: number, opts: HessianOptions = {}): (v: Float64Array) => Promise<Float64Array> {
  const theta = opts.theta ?? model.theta();
  const pass = { ...(opts.batchSize ? { batchSize: opts.batchSize } : {}), ...(opts.budget ? { budget: opts.budget } : {}), phase: 'Hessian-vector products' };
  return async (v) => {
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    const out = new Float64Array(v.length);
    if (norm === 0) return out;
    const eps = HESSIAN_STEP / norm;
    const up = theta.map((t, k) => t + eps * v[k]!);
    const down = theta.map((t, k) => t - eps * v[k]!);
    const gu = await objectiveGradient(model, train, loss, l2, up, pass);
    const gd = await objectiveGradient(model, train, loss, l2, down, pass);
    for (let k = 0; k < v.length; k++) out[k] = (gu[k]! - gd[k]!) / (2 * eps) + damping * v[k]!;
    return out;
  };
}
