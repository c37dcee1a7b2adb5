import { weightedLasso } from '../core/linalg.js';
import { Rng } from '../core/random.js';
import type { AblationGame } from './game.js';
import { logitOfLogProb } from './scorer.js';

export interface ContextCiteOptions {
  /** Random ablations. Default 64. */
  readonly ablations: number;
  /** Probability that a source is kept in an ablation. Default 0.5. */
  readonly keepProbability?: number;
  /** Lasso penalty on standardised masks (sklearn's `alpha`). Default 0.01, ContextCite's. */
  readonly alpha?: number;
  readonly seed: number;
  /** Tokens of the scored response span T: the target is fitted per token, as ContextCite does. Default 1. */
  readonly responseTokens?: number;
}

/** Independent Bernoulli(p) keep-masks [k, n]. */
export function randomMasks(n: number, k: number, p: number, rng: Rng): Uint8Array {
  const masks = new Uint8Array(k * n);
  for (let i = 0; i < masks.length; i++) masks[i] = rng.next() < p ? 1 : 0;
  return masks;
}

/**
 * ContextCite: `ablations` random keep-masks (each source kept with probability 1/2); the target of
 * each is the logit of the response's probability, log(p / (1 − p)), divided by the number of response
 * tokens T; a Lasso (α = 0.01) on the standardised masks (column mean 0, standard deviation 1,
 * sklearn's StandardScaler) is fitted and its weights mapped back to the mask scale (weight / scale)
 * and multiplied by T: ContextCite's `LassoRegression` solver (the per-token scaling makes α act per
 * token, so long and short responses are penalised alike). The score of a
 * source is its surrogate weight: the predicted change in the logit when it is added.
 *
 * Cost: `ablations` prompts (masks drawn twice hit the cache).
 *
 * @see Cohen-Wang, Shah, Georgiev, Madry (2024), https://arxiv.org/abs/2409.00729
 */
export async function contextCite(game: AblationGame, opts: ContextCiteOptions): Promise<{ scores: Float64Array; intercept: number }> {
  const n = game.n;
  const k = opts.ablations;
  const masks = randomMasks(n, k, opts.keepProbability ?? 0.5, new Rng(opts.seed));
  const y = (await game.values(masks, 'context-cite ablations')).map(logitOfLogProb);
  return fitSurrogate(masks, y, n, opts.alpha ?? 0.01, opts.responseTokens ?? 1);
}

/**
 * ContextCite's surrogate: Lasso on standardised masks fitted to y / `tokens`, weights returned on the
 * mask scale and multiplied back by `tokens`.
 */
export function fitSurrogate(masks: Uint8Array, y: Float64Array, n: number, alpha: number, tokens = 1): { scores: Float64Array; intercept: number } {
  const k = y.length;
  const mean = new Float64Array(n);
  const scale = new Float64Array(n);
  for (let r = 0; r < k; r++) for (let i = 0; i < n; i++) mean[i]! += masks[r * n + i]! / k;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let r = 0; r < k; r++) v += (masks[r * n + i]! - mean[i]!) ** 2;
    const sd = Math.sqrt(v / k);
    scale[i] = sd > 0 ? sd : 1; // sklearn: constant columns keep scale 1
  }
  const x = new Float64Array(k * n);
  for (let r = 0; r < k; r++) for (let i = 0; i < n; i++) x[r * n + i] = (masks[r * n + i]! - mean[i]!) / scale[i]!;
  const fit = weightedLasso(x, y.map((v) => v / tokens), new Float64Array(k).fill(1), k, n, alpha);
  const scores = new Float64Array(n);
  let intercept = fit.intercept;
  for (let i = 0; i < n; i++) {
    scores[i] = (fit.coef[i]! / scale[i]!) * tokens;
    intercept -= (mean[i]! / scale[i]!) * fit.coef[i]!;
  }
  return { scores, intercept: intercept * tokens };
}
