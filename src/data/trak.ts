// TRAK: projected margin gradients, the ridge-regularised kernel inverse, averaged over checkpoints.
import { assertHostAllocation } from '../core/assert.js';
import type { DataAttribution } from '../core/result.js';
import { forEachGradient, gradientMatrix } from './gradients.js';
import { addGram, backSolve, cholesky, dot, forwardSolve, pseudoInverseSolver, symmetrizeLower } from './internal/dense.js';
import { dataResult, MultiModelMethod, nonNegative, prepareRun, scoreAgainstTrain, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import type { TrainingSet } from './rows.js';
import { projectionFor, type ProjectionOptions } from './projection.js';

/** TRAK's options; without `projectionDim` the features are the full gradients (k = p, small models). */
export interface TrakOptions extends DataRunOptions, ProjectionOptions {
  /** λ of the kernel ΦᵀΦ + nλI (a ridge; without it single-model TRAK collapses when k nears n). Default 0. */
  readonly l2?: number;
}

/**
 * TRAK: per model m, features φ_j = P_m ∇f_j of the margin f = log(p_y / (1 − p_y)), the kernel
 * K_m = Φ_mᵀΦ_m + nλI and score_m[i, j] = φ_iᵀ K_m⁻¹ φ_j; the result is the mean over models of
 * score_m times the mean of the weights Q_j = 1 − p_{y_j} (TRAK's ensemble estimator). > 0: j raises
 * test example i's margin, so removing j is predicted to raise its loss (a proponent).
 *
 * Cost: per model, one gradient pass over the training and one over the test set, k·p per row to
 * project, k³/3 to factor K; k ≤ n streams the training set twice (kernel, then scores). Memory:
 * k² + m·k + one batch of gradients and training rows (+ k·p for P when cached); k > n keeps the training features, n·k, and solves in
 * the dual, n × n.
 * @see Park et al. (2023), https://arxiv.org/abs/2303.14186
 * @throws {CapabilityError} for a loss other than cross-entropy (the margin needs classes).
 * @throws {InvalidArgumentError} when k exceeds the parameter count, or K is singular (raise `l2`).
 */
export class Trak extends MultiModelMethod<TrakOptions> {
  readonly id = 'trak' as const;
  constructor(models: OnnxTrainingModel | readonly OnnxTrainingModel[], defaults: TrakOptions = {}) {
    super(models, defaults, 'models', 'Trak');
  }

  async attribute(train: TrainingSet, test: Examples, options: TrakOptions = {}): Promise<DataAttribution> {
    const fn = 'Trak.attribute';
    // the margin output function needs classes
    const { o, loss, n, m } = await prepareRun(this.models[0]!, train, test, this.defaults, options, fn, 'cross-entropy');
    const l2 = nonNegative(o.l2 ?? 0, 'l2', fn);
    const p = this.models[0]!.parameterCount;
    const budget = startBudget(o, (2 * n + m) * this.models.length, fn);
    const pass = { budget, objective: 'margin' as const, ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
    const scores = new Float64Array(m * n);
    const weights = new Float64Array(n);
    for (const [c, model] of this.models.entries()) {
      const projection = projectionFor(o, model, c);
      const k = projection?.outputDim ?? p;
      const features = (g: Float64Array, rows: number) => (projection ? projection.project(g, rows) : g);
      const testPhi = features((await gradientMatrix(model, test, loss, { ...pass, phase: 'test features' })).grads, m);
      if (k <= n) {
        assertHostAllocation(k * k, 'projectionDim', fn);
        // primal, streamed: pass 1 builds ΦᵀΦ, pass 2 scores each batch of training features
        const kernel = new Float64Array(k * k);
        await forEachGradient(model, train, loss, { ...pass, phase: 'training kernel' }, (ch) => {
          addGram(features(ch.grads, ch.rows), ch.rows, k, kernel);
          for (let r = 0; r < ch.rows; r++) weights[ch.start + r]! += ch.weight![r]!;
        });
        budget.enterPhase('kernel');
        const left = primalSolve(kernel, testPhi, n, m, k, l2);
        await scoreAgainstTrain(model, train, loss, left, m, 1, { ...pass, phase: 'training features' }, features, scores);
      } else {
        assertHostAllocation(n * k, 'projectionDim', fn);
        const phi = new Float64Array(n * k);
        await forEachGradient(model, train, loss, { ...pass, phase: 'training features' }, (ch) => {
          phi.set(features(ch.grads, ch.rows), ch.start * k);
          for (let r = 0; r < ch.rows; r++) weights[ch.start + r]! += ch.weight![r]!;
        });
        budget.enterPhase('kernel');
        dualScores(phi, testPhi, n, m, k, l2, scores);
      }
    }
    const models = this.models.length;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) scores[i * n + j] = (scores[i * n + j]! / models) * (weights[j]! / models);
    return dataResult(this.id, scores, m, n, budget);
  }
}

const HINT = "raise 'l2' (the ridge λ) or change the projection dimension";

/** The solver of A x = b for SPD A (Cholesky) when λ > 0, else the pseudo-inverse with NumPy's cutoff. */
function solver(a: Float64Array, d: number, l2: number, rows: number, what: string): (b: Float64Array) => Float64Array {
  if (l2 > 0) {
    const chol = cholesky(a, d, what, HINT);
    return (b) => backSolve(chol, d, forwardSolve(chol, d, b));
  }
  return pseudoInverseSolver(a, d, Math.max(rows, d) * Number.EPSILON);
}

/** (ΦᵀΦ + nλI)⁻¹ φ_i for every test feature row: [m × k] (λ = 0: the pseudo-inverse). */
function primalSolve(kernel: Float64Array, testPhi: Float64Array, n: number, m: number, k: number, l2: number): Float64Array {
  symmetrizeLower(kernel, k);
  for (let d = 0; d < k; d++) kernel[d * k + d]! += n * l2;
  const solve = solver(kernel, k, l2, n, 'TRAK kernel ΦᵀΦ + nλI');
  const left = new Float64Array(m * k);
  for (let i = 0; i < m; i++) left.set(solve(testPhi.slice(i * k, (i + 1) * k)), i * k);
  return left;
}

/**
 * scores[i, j] += φ_iᵀΦᵀ(ΦΦᵀ + nλI)⁻¹ e_j, the same scores in the dual (n × n) form for k > n, where
 * ΦᵀΦ is singular (λ = 0: the pseudo-inverse (ΦΦᵀ)⁺).
 */
function dualScores(phi: Float64Array, testPhi: Float64Array, n: number, m: number, k: number, l2: number, scores: Float64Array): void {
  const gram = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c <= r; c++) gram[r * n + c] = gram[c * n + r] = dot(phi, r * k, phi, c * k, k);
  for (let i = 0; i < n; i++) gram[i * n + i]! += n * l2;
  const solve = solver(gram, n, l2, k, 'TRAK Gram matrix ΦΦᵀ + nλI');
  for (let i = 0; i < m; i++) {
    const b = new Float64Array(n);
    for (let j = 0; j < n; j++) b[j] = dot(phi, j * k, testPhi, i * k, k);
    const u = solve(b);
    for (let j = 0; j < n; j++) scores[i * n + j]! += u[j]!;
  }
}
