// Judges of training-data attribution scores against retraining: the linear datamodeling score
// (LDS, as dattri defines it), leave-one-out correlation, and the AUROC of mislabel detection.
import { ShapeMismatchError } from '../core/errors.js';
import { pearson } from '../core/linalg.js';
import { ranks, spearman } from '../core/rank.js';

const check = (ok: boolean, arg: string, fn: string, want: string, got: string): void => {
  if (!ok) throw new ShapeMismatchError(`Argument '${arg}' passed to '${fn}' must ${want}, got ${got}`, { arg, fn });
};

/**
 * The linear datamodeling score: for each test example i, Spearman over the subsets s of the
 * predicted change Σ_{j ∉ S_s} score[i, j] and the loss ℓ_i(θ_{S_s}) after retraining on S_s; then
 * the mean over test examples (those with a constant side, NaN, are left out and counted).
 * `scores` [m × n], `subsets` [S × n] (nonzero = kept), `losses` [S × m].
 * @see Park et al. (2023), TRAK, https://arxiv.org/abs/2303.14186; dattri's LDS
 */
export function linearDatamodelingScore(scores: ArrayLike<number>, m: number, n: number, subsets: ArrayLike<number>, losses: ArrayLike<number>): { lds: number; perTest: Float64Array; undefinedTests: number } {
  const fn = 'linearDatamodelingScore';
  const S = subsets.length / n;
  check(scores.length === m * n, 'scores', fn, `hold ${m} × ${n} values`, `${scores.length}`);
  check(Number.isInteger(S) && S >= 2, 'subsets', fn, `be [subsets, ${n}] with at least 2 subsets`, `${subsets.length} values`);
  check(losses.length === S * m, 'losses', fn, `be [${S}, ${m}] (subsets × test examples)`, `${losses.length} values`);
  const perTest = new Float64Array(m);
  let sum = 0;
  let count = 0;
  const predicted = new Float64Array(S);
  const actual = new Float64Array(S);
  for (let i = 0; i < m; i++) {
    for (let s = 0; s < S; s++) {
      let v = 0;
      for (let j = 0; j < n; j++) if (!subsets[s * n + j]) v += scores[i * n + j]!;
      predicted[s] = v;
      actual[s] = losses[s * m + i]!;
    }
    const r = spearman(predicted, actual);
    perTest[i] = r;
    if (Number.isFinite(r)) (sum += r), count++;
  }
  return { lds: count > 0 ? sum / count : NaN, perTest, undefinedTests: m - count };
}

/**
 * Agreement of scores with leave-one-out retraining Δ[i, j] = ℓ_i(θ₋ⱼ) − ℓ_i(θ*): Pearson over all
 * pairs, and the mean over test examples of the Spearman correlation within each.
 */
export function leaveOneOutCorrelation(scores: ArrayLike<number>, loo: ArrayLike<number>, m: number, n: number): { pearson: number; spearmanPerTest: number } {
  check(scores.length === m * n && loo.length === m * n, 'loo', 'leaveOneOutCorrelation', `hold ${m} × ${n} values like the scores`, `${loo.length} and ${scores.length}`);
  let s = 0;
  for (let i = 0; i < m; i++) s += spearman(Array.prototype.slice.call(scores, i * n, (i + 1) * n), Array.prototype.slice.call(loo, i * n, (i + 1) * n));
  return { pearson: pearson(Float64Array.from(scores), Float64Array.from(loo)), spearmanPerTest: s / m };
}

/** Area under the ROC curve of `score` separating `positive` (nonzero) from the rest; ties count ½. */
export function auroc(score: ArrayLike<number>, positive: ArrayLike<number>): number {
  check(score.length === positive.length, 'positive', 'auroc', `have one flag per score (${score.length})`, `${positive.length}`);
  const r = ranks(score);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < score.length; i++) if (positive[i]) (pos++, (rankSum += r[i]!));
  const neg = score.length - pos;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
