import { leaveOneOutMasks, type AblationGame } from './game.js';

/**
 * Leave-one-out: score_i = v(all) − v(all but source i), the drop in the response's log-probability
 * when source i is removed.
 *
 * Cost: n + 1 prompts (n sources).
 */
export async function leaveOneOut(game: AblationGame, full: number): Promise<Float64Array> {
  const n = game.n;
  const v = await game.values(leaveOneOutMasks(n, Array.from({ length: n }, (_, i) => i)), 'leave-one-out');
  return v.map((x) => full - x);
}
