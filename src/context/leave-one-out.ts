import type { AblationGame } from './game.js';

/**
 * Leave-one-out: score_i = v(all) − v(all but source i), the drop in the response's log-probability
 * when source i is removed.
 *
 * Cost: n + 1 prompts (n sources).
 */
export async function leaveOneOut(game: AblationGame, full: number): Promise<Float64Array> {
  const n = game.n;
  const masks = new Uint8Array(n * n).fill(1);
  for (let i = 0; i < n; i++) masks[i * n + i] = 0;
  const v = await game.values(masks, 'leave-one-out');
  return v.map((x) => full - x);
}
