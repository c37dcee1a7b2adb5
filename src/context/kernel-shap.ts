import { Rng } from '../core/random.js';
import { coalitionCount, constrainedFit, drawCoalitions } from '../core/shapley-kernel.js';
import type { AblationGame } from './game.js';

/**
 * KernelSHAP over context sources: Shapley values of v(S) = log p(response | sources S), from the
 * Shapley-kernel-weighted regression on coalitions with efficiency imposed exactly (Σ scores = v(all)
 * − v(none)), the project's KernelSHAP solver (`core/shapley-kernel.ts`). With `ablations` ≥ 2^n − 2
 * every coalition is enumerated and the values are exact.
 *
 * Cost: min(ablations, 2^n − 2) + 1 prompts besides the full context (the empty context included).
 *
 * @see Lundberg, Lee (2017), https://arxiv.org/abs/1705.07874
 */
export async function contextKernelShap(game: AblationGame, full: number, opts: { readonly ablations: number; readonly seed: number }): Promise<Float64Array> {
  const n = game.n;
  const k = coalitionCount(n, opts.ablations);
  const { z, w } = n <= 1 ? { z: new Uint8Array(0), w: new Float64Array(0) } : drawCoalitions(n, k, new Rng(opts.seed));
  const masks = new Uint8Array((k + 1) * n);
  masks.set(z, n); // row 0: the empty context
  const v = await game.values(masks, 'kernel-shap coalitions');
  return constrainedFit(z, v.subarray(1), w, n, full, v[0]!);
}
