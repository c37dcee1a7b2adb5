// The statistics of subset sampling (Kramár et al. 2024, Algorithm 1 and "Diagnostics"): per node,
// running means and variances of I(S) over the subsets that contain it and those that do not, the
// estimate ī+ − ī−, and its Welch upper confidence bound on |c(n)|.
import { InvalidArgumentError } from '../core/errors.js';
import { studentTQuantile } from '../core/student-t.js';

/** How the per-node level follows from the family-wise α: α/nodes (Bonferroni) or α itself (see `SubsetStatistics.bounds`). */
export type BoundCorrection = 'bonferroni' | 'none';

/** One node's subset-sampling estimate and the upper confidence bound on its |c(n)|. */
export interface SubsetBound {
  /** ī+ − ī−: mean I(S) over the subsets containing the node minus over those that do not. */
  readonly estimate: number;
  /** sqrt(s+²/N+ + s−²/N−) (Infinity when N+ or N− < 2). */
  readonly standardError: number;
  /** Welch–Satterthwaite degrees of freedom (NaN when N+ or N− < 2). */
  readonly df: number;
  /** |estimate| + t_{1−α'}(df) · standardError, α' = α/nodes or α (Infinity when N± < 2). */
  readonly upperBound: number;
  /** Subsets that contained the node (N+) and that did not (N−). */
  readonly included: number;
  readonly excluded: number;
}

/**
 * Welford running statistics of I(S), per node, split by whether S contains the node. Feed it every
 * sampled subset (`add`), then read the estimates and bounds (`bounds`).
 */
export class SubsetStatistics {
  private readonly n = [new Float64Array(0), new Float64Array(0)];
  private readonly mean = [new Float64Array(0), new Float64Array(0)];
  private readonly m2 = [new Float64Array(0), new Float64Array(0)];

  constructor(readonly nodes: number) {
    for (const side of [0, 1]) {
      this.n[side] = new Float64Array(nodes);
      this.mean[side] = new Float64Array(nodes);
      this.m2[side] = new Float64Array(nodes);
    }
  }

  /** One subset: `members[i]` = 1 when node i is in S; `value` = I(S). */
  add(members: Uint8Array, value: number): void {
    for (let i = 0; i < this.nodes; i++) {
      const side = members[i]! ? 1 : 0;
      const [n, mean, m2] = [this.n[side]!, this.mean[side]!, this.m2[side]!];
      n[i]! += 1;
      const delta = value - mean[i]!;
      mean[i]! += delta / n[i]!;
      m2[i]! += delta * (value - mean[i]!);
    }
  }

  /**
   * Each node's estimate and its one-sided upper confidence bound on |c(n)|: the smallest θ at which
   * the one-sided Welch t-test rejects H0: |c(n)| ≥ θ, tested at the least favourable simple null
   * c(n) = θ·sign(ī+ − ī−). With `correction` 'bonferroni' (default) each node is tested at α/nodes,
   * so that all the bounds hold at once with confidence 1 − α; with 'none' at α: each bound alone holds
   * with 1 − α, and so does θ* = max bound (if some node had |c(n)| ≥ θ*, its own test would have
   * rejected a true H0: an intersection–union test needs no correction), but not all bounds at once.
   */
  bounds(alpha: number, correction: BoundCorrection = 'bonferroni'): SubsetBound[] {
    if (!(alpha > 0 && alpha < 1)) {
      throw new InvalidArgumentError(`Argument 'alpha' passed to 'SubsetStatistics.bounds' must be in (0, 1), got ${alpha}`, { arg: 'alpha', fn: 'SubsetStatistics.bounds', value: alpha });
    }
    if (correction !== 'bonferroni' && correction !== 'none') {
      throw new InvalidArgumentError(`Argument 'correction' passed to 'SubsetStatistics.bounds' must be 'bonferroni' or 'none', got '${String(correction)}'`, { arg: 'correction', fn: 'SubsetStatistics.bounds', value: correction });
    }
    const perNodeAlpha = correction === 'bonferroni' ? alpha / this.nodes : alpha;
    return Array.from({ length: this.nodes }, (_, i) => {
      const [nm, np] = [this.n[0]![i]!, this.n[1]![i]!];
      const estimate = np > 0 && nm > 0 ? this.mean[1]![i]! - this.mean[0]![i]! : NaN;
      if (np < 2 || nm < 2) return { estimate, standardError: Infinity, df: NaN, upperBound: Infinity, included: np, excluded: nm };
      const a = this.m2[1]![i]! / (np - 1) / np; // s+² / N+
      const b = this.m2[0]![i]! / (nm - 1) / nm; // s−² / N−
      const standardError = Math.sqrt(a + b);
      // with no spread on either side the t statistic is degenerate: the bound is the estimate itself
      const df = a + b === 0 ? np + nm - 2 : (a + b) ** 2 / ((a * a) / (np - 1) + (b * b) / (nm - 1));
      const upperBound = Math.abs(estimate) + (standardError === 0 ? 0 : studentTQuantile(1 - perNodeAlpha, df) * standardError);
      return { estimate, standardError, df, upperBound, included: np, excluded: nm };
    });
  }
}

/** θ*: the largest upper bound (0 for no nodes). With confidence 1 − α, no node has |c(n)| ≥ θ* (up to the estimator's interaction bias). */
export const thetaStar = (bounds: readonly SubsetBound[]): number => bounds.reduce((m, b) => Math.max(m, b.upperBound), 0);
