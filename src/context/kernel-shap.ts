import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { coalitionCount, constrainedFit, drawCoalitions } from '../core/shapley-kernel.js';
import type { AblationGame } from './game.js';

/**
 * KernelSHAP over context sources: Shapley values of v(S) = log p(response | sources S), from the
 * Shapley-kernel-weighted regression on coalitions with efficiency imposed exactly (Σ scores = v(all)
 * − v(none)), the project's KernelSHAP solver (`core/shapley-kernel.ts`). `ablations` counts the
 * ablated prompts: the empty context and `ablations − 1` coalitions; with `ablations` ≥ 2^n − 1 every
 * coalition is enumerated and the values are exact.
 *
 * Cost: min(ablations, 2^n − 1) prompts besides the full context.
 *
 * @see Lundberg, Lee (2017), https://arxiv.org/abs/1705.07874
 */
export async function contextKernelShap(game: AblationGame, full: number, opts: { readonly ablations: number; readonly seed: number }): Promise<Float64Array> {
  const n = game.n;
  const k = coalitionCount(n, opts.ablations - 1);
  if (n > 1 && k < 2) {
    throw new InvalidArgumentError(`Argument 'ablations' passed to 'contextKernelShap' must be at least 3 for ${n} sources (the empty context and two coalitions), got ${opts.ablations}`, { arg: 'ablations', fn: 'contextKernelShap' });
  }
  const { z, w } = n <= 1 ? { z: new Uint8Array(0), w: new Float64Array(0) } : drawCoalitions(n, k, new Rng(opts.seed));
  const masks = new Uint8Array((k + 1) * n);
  masks.set(z, n); // row 0: the empty context
  const v = await game.values(masks, 'kernel-shap coalitions');
  return constrainedFit(z, v.subarray(1), w, n, full, v[0]!);
}
