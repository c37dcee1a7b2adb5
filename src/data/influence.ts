// Influence functions (Koh & Liang 2017) with the exact Hessian or conjugate gradients.
import type { DataAttribution } from '../core/result.js';
import { InvalidArgumentError } from '../core/errors.js';
import { gradientMatrix, forEachGradient } from './gradients.js';
import { kroneckerHessian } from './ekfac.js';
import { lissaSolver, type LissaOptions } from './lissa.js';
import { exactHessian, hessianVectorProduct } from './hessian.js';
import { backSolve, cholesky, conjugateGradient, forwardSolve } from './internal/dense.js';
import { dataResult, nonNegative, prepareRun, scoreAgainstTrain, startBudget, type DataRunOptions } from './internal/scores.js';
import type { Examples } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import type { TrainingSet } from './rows.js';

/**
 * How H⁻¹ is applied: the exact Hessian factored once, conjugate gradients on Hessian-vector
 * products, LiSSA's Neumann series of them, or the layer-block Kronecker-factored Gauss–Newton Hessian (K-FAC, or EK-FAC with fitted
 * eigenvalues), inverted exactly in its eigenbasis.
 */
export type HessianSolver = 'exact' | 'cg' | 'lissa' | 'kfac' | 'ekfac';
export const HESSIAN_SOLVERS: readonly HessianSolver[] = ['exact', 'cg', 'lissa', 'kfac', 'ekfac'];

export interface InfluenceOptions extends DataRunOptions {
  /** λ of the training objective's (λ/2)‖θ‖² (what the model was trained with). Default 0. */
  readonly l2?: number;
  /** Default 'exact' (p² memory, 2p passes over the training set); 'cg' needs O(p) memory; 'kfac' / 'ekfac' Σ_layers in² + out². */
  readonly hessian?: HessianSolver;
  /** Added to the Hessian's diagonal (for a model not at a strict minimum). Default 0. */
  readonly damping?: number;
  /** Conjugate-gradient iterations per test example at most. Default 100. */
  readonly cgIterations?: number;
  /** Conjugate gradients stop at this relative residual. Default 1e-6. */
  readonly cgTolerance?: number;
  /** LiSSA's settings (`hessian: 'lissa'`); minibatches are drawn with `seed`. */
  readonly lissa?: LissaOptions;
}

/** Most parameters the exact Hessian is formed for (p² doubles: 512 MiB). */
export const MAX_EXACT_PARAMETERS = 8192;

const HINT = "the model is not at a strict minimum of the objective: check 'l2' (the λ it was trained with) or add 'damping'";

/**
 * Influence functions: score[i, j] = (1/n) ∇ℓ_iᵀ H⁻¹ ∇ℓ_j with H = ∇²J(θ*) of J = mean loss + (λ/2)‖θ‖²:
 * the first-order change of test loss i when training example j is removed (> 0: removing j raises
 * ℓ_i, j is a proponent), which approximates leave-one-out retraining.
 *
 * Cost: exact, 2p passes over the training set for H, p³/3 for its factor, one gradient pass over
 * test and training sets; cg, 2 passes per iteration per test example; lissa, 2 batch passes per step; kfac/ekfac, 1–2 passes with C
 * backward runs per batch. Memory: p² (exact), m·p (cg), Σ_layers in² + out² (kfac/ekfac), plus one
 * batch of gradients and training rows (`train` may be a row source: it is read a batch at a time).
 * Axiom: with the exact Hessian of a strictly convex objective (logistic regression), the score is
 * the derivative of the leave-one-out change.
 * @see Koh, Liang (2017), https://arxiv.org/abs/1703.04730
 * @throws {InvalidArgumentError} when H (+ damping) is not positive definite.
 */
export class InfluenceFunctions {
  readonly id = 'influence' as const;
  constructor(
    private readonly model: OnnxTrainingModel,
    private readonly defaults: InfluenceOptions = {},
  ) {}

  async attribute(train: TrainingSet, test: Examples, options: InfluenceOptions = {}): Promise<DataAttribution> {
    const fn = 'InfluenceFunctions.attribute';
    const { o, loss, n, m } = await prepareRun(this.model, train, test, this.defaults, options, fn);
    const p = this.model.parameterCount;
    const solve = await this.solver(train, o, fn, n, m);
    const { budget } = solve;
    const pass = { budget, ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
    const { grads } = await gradientMatrix(this.model, test, loss, { ...pass, phase: 'test gradients' });
    const left = new Float64Array(m * p);
    for (let i = 0; i < m; i++) left.set(await solve.apply(grads.subarray(i * p, (i + 1) * p)), i * p);
    const scores = await scoreAgainstTrain(this.model, train, loss, left, m, 1 / n, { ...pass, phase: 'training gradients' });
    return dataResult(this.id, scores, m, n, budget);
  }

  /**
   * Self-influence (1/n) ∇ℓ_jᵀ H⁻¹ ∇ℓ_j of every training example (score[j, j] with the training set
   * as the test set; always > 0): large for examples the model bends to fit, e.g. mislabelled ones.
   */
  async selfInfluence(train: TrainingSet, options: InfluenceOptions = {}): Promise<Float64Array> {
    const fn = 'InfluenceFunctions.selfInfluence';
    const { o, loss, n } = await prepareRun(this.model, train, train, this.defaults, options, fn);
    const p = this.model.parameterCount;
    const solve = await this.solver(train, o, fn, n, n);
    const out = new Float64Array(n);
    await forEachGradient(this.model, train, loss, { budget: solve.budget, phase: 'self-influence', ...(o.batchSize ? { batchSize: o.batchSize } : {}) }, async (c) => {
      for (let r = 0; r < c.rows; r++) {
        const g = c.grads.subarray(r * p, (r + 1) * p);
        const u = await solve.apply(g);
        let s = 0;
        for (let k = 0; k < p; k++) s += g[k]! * u[k]!;
        out[c.start + r] = s / n;
      }
    });
    solve.budget.finish();
    return out;
  }

  /** H⁻¹ (plus the budget that paces it) for these options. */
  private async solver(train: TrainingSet, o: InfluenceOptions, fn: string, n: number, solves: number) {
    const loss = o.loss ?? 'cross-entropy';
    const l2 = nonNegative(o.l2 ?? 0, 'l2', fn);
    const damping = nonNegative(o.damping ?? 0, 'damping', fn);
    const hessian = o.hessian ?? 'exact';
    if (!HESSIAN_SOLVERS.includes(hessian)) throw new InvalidArgumentError(`Argument 'hessian' passed to '${fn}' must be one of ${HESSIAN_SOLVERS.join(', ')}, got ${String(hessian)}`, { arg: 'hessian', fn });
    const p = this.model.parameterCount;
    const iterations = o.cgIterations ?? 100;
    const budget = startBudget(o, hessian === 'exact' ? 2 * p * n + 2 * n + solves : hessian === 'cg' ? 2 * n * iterations * solves + 2 * n + solves : hessian === 'lissa' ? 2 * n * (o.lissa?.depth ?? 1000) * solves + 40 * n : 3 * n + solves, fn);
    const pass = { budget, ...(o.batchSize ? { batchSize: o.batchSize } : {}) };
    if (hessian === 'lissa') {
      const solve = await lissaSolver(this.model, train, loss, l2, damping, { ...o.lissa, budget, ...(o.seed === undefined ? {} : { seed: o.seed }) }, fn);
      return { budget, apply: solve };
    }
    if (hessian === 'kfac' || hessian === 'ekfac') {
      const inverse = await kroneckerHessian(this.model, train, loss, hessian, pass);
      return { budget, apply: async (g: Float64Array) => inverse(g, l2 + damping) };
    }
    if (hessian === 'exact') {
      if (p > MAX_EXACT_PARAMETERS) throw new InvalidArgumentError(`Argument 'hessian' passed to '${fn}' is 'exact', but the model has ${p} parameters: its Hessian would need ${p}² doubles; for more than ${MAX_EXACT_PARAMETERS} parameters use 'cg', 'lissa', 'kfac' or 'ekfac'`, { arg: 'hessian', fn, parameters: p, max: MAX_EXACT_PARAMETERS });
      budget.enterPhase('Hessian');
      const h = await exactHessian(this.model, train, loss, l2, pass);
      for (let k = 0; k < p; k++) h[k * p + k]! += damping;
      const l = cholesky(h, p, 'Hessian of the training objective', HINT);
      return { budget, apply: async (g: Float64Array) => backSolve(l, p, forwardSolve(l, p, g.slice())) };
    }
    const hvp = hessianVectorProduct(this.model, train, loss, l2, damping, pass);
    const tolerance = o.cgTolerance ?? 1e-6;
    return { budget, apply: async (g: Float64Array) => (await conjugateGradient(hvp, g.slice(), iterations, tolerance)).x };
  }
}
