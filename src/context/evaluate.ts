import { Rng } from '../core/random.js';
import { spearman } from '../core/rank.js';
import { randomMasks } from './context-cite.js';
import type { AblationGame } from './game.js';

/** Log-probability drop when the k top-scoring sources are removed, for each requested k. */
export interface TopKDrop {
  readonly k: number;
  readonly drop: number;
}

/**
 * Top-k log-probability drop (ContextCite's evaluation): v(all) − v(all but the k sources with the
 * highest scores). A faithful attribution gives large drops at small k.
 *
 * Cost: one prompt per k.
 */
export async function topKDrop(game: AblationGame, full: number, scores: ArrayLike<number>, ks: readonly number[]): Promise<TopKDrop[]> {
  const n = game.n;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const valid = ks.filter((k) => k >= 1 && k <= n);
  const masks = new Uint8Array(valid.length * n).fill(1);
  valid.forEach((k, r) => order.slice(0, k).forEach((i) => (masks[r * n + i] = 0)));
  const v = await game.values(masks, 'top-k drop');
  return valid.map((k, r) => ({ k, drop: full - v[r]! }));
}

/**
 * Linear datamodeling score of a context attribution (Park et al. 2023; ContextCite's LDS): the Spearman correlation, over
 * `count` held-out random keep-masks (each source kept with probability 1/2, drawn from `seed`),
 * between the attribution's additive prediction Σ_i score_i·[i kept] and the response's actual
 * log-probability (a rank correlation: the logit target gives the same value).
 *
 * Cost: `count` prompts.
 */
export async function ablationLds(game: Pick<AblationGame, 'n' | 'values'>, scores: ArrayLike<number>, count: number, seed: number): Promise<number> {
  const n = game.n;
  const masks = randomMasks(n, count, 0.5, new Rng(seed));
  const actual = await game.values(masks, 'LDS held-out ablations');
  const predicted = new Float64Array(count);
  for (let r = 0; r < count; r++) for (let i = 0; i < n; i++) predicted[r]! += masks[r * n + i]! * scores[i]!;
  const rho = spearman(predicted, actual);
  return Number.isNaN(rho) ? 0 : rho; // a constant side: no ranking to agree with
}
