// Rank statistics shared by the evaluations (randomisation checks, LDS of data and context attribution).
import { pearson } from './linalg.js';

/** Ranks 1..n of the values, ties given their average rank (for Spearman correlations). */
export function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((p, q) => v[p]! - v[q]!);
  const r = new Float64Array(v.length);
  for (let s = 0; s < idx.length; ) {
    let t = s;
    while (t + 1 < idx.length && v[idx[t + 1]!] === v[idx[s]!]) t++;
    for (let q = s; q <= t; q++) r[idx[q]!] = (s + t) / 2 + 1;
    s = t + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson of average ranks); NaN when either side is constant (undefined). */
export const spearman = (a: ArrayLike<number>, b: ArrayLike<number>): number => pearson(ranks(a), ranks(b));
