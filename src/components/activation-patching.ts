// Activation patching: each node of the clean run replaced by its corrupt value (noising), or of the
// corrupt run by its clean value (denoising), everything downstream recomputed, many patched runs per
// forward batch.
import { Budget } from '../core/budget.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { HookedTransformer, MaskedPatch } from '../models/transformer/hooked-transformer.js';
import { NodeAttribution } from './node-attribution.js';
import { checkComponentOptions, ENGINE, componentNodes, forEachElement, metricOf, type ComponentOptions, type NodeScore } from './nodes.js';

/**
 * Activation patching: score(n) = M(clean run with n ← n(corrupt run)) − M(clean) ("noising", the
 * default), or with `mode: 'denoising'` M(corrupt run with n ← n(clean run)) − M(corrupt), with
 * M = logits[last, answer] − logits[last, wrong]. Each batch row of one forward pass patches a
 * different node (every patchable hook is `mask ? corrupt : own value`, the mask set on that row's
 * node), so `batchSize` nodes cost one session run.
 *
 * Cost: nodes + 2 forward rows, in ⌈nodes / batchSize⌉ + 2 runs (`batchSize` default 64), checked against
 * `maxEvaluations` before any work; `signal` aborts between runs.
 * Axiom: exact effect of each single-node intervention (no linearisation).
 *
 * @see Meng et al. (2022); Heimersheim & Nanda (2024), "How to use and interpret activation patching"
 * @throws {InvalidArgumentError} as `attributionPatching`, and for a `batchSize` that is not a positive integer.
 */
export interface ActivationPatchingOptions extends ComponentOptions {
  /** 'noising' (default): patch corrupt values into the clean run; 'denoising': clean values into the corrupt run. */
  readonly mode?: 'noising' | 'denoising';
}

export async function activationPatching(model: HookedTransformer, opts: ActivationPatchingOptions): Promise<NodeAttribution> {
  const fn = 'activationPatching';
  const { kinds, metric } = checkComponentOptions(model.config, opts, fn, true);
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError(`Argument 'batchSize' passed to '${fn}' must be a positive integer, got ${batchSize}`, { arg: 'batchSize', fn });
  }
  const T = opts.tokens.length;
  const nodes = componentNodes(model.config, kinds, T, opts.perPosition ?? false);
  const run = Budget.start(opts, { total: nodes.length + 2, fn, exact: true, model: ENGINE });
  await run.checkpoint(2);
  const hooks = [...new Set(nodes.map((n) => n.hook))];
  const mode = opts.mode ?? 'noising';
  if (mode !== 'noising' && mode !== 'denoising') throw new InvalidArgumentError(`Argument 'mode' passed to '${fn}' must be 'noising' or 'denoising', got '${String(mode)}'`, { arg: 'mode', fn });
  // the run that is patched, and the run the patched values come from
  const [target, source] = mode === 'noising' ? [opts.tokens, opts.corruptTokens!] : [opts.corruptTokens!, opts.tokens];
  const from = await model.runWithCache(source, hooks);
  const base = metricOf(metric, await model.run(target), 0);
  const size = new Map(hooks.map((h) => [h, model.hookShape(h, T).reduce((a, b) => a * b, 1)]));
  const scores: NodeScore[] = [];
  for (let start = 0; start < nodes.length; start += batchSize) {
    const chunk = nodes.slice(start, start + batchSize);
    const rows = chunk.length;
    const masked: Record<string, MaskedPatch> = {};
    for (const h of hooks) {
      const per = size.get(h)!;
      const value = new Float32Array(rows * per);
      for (let r = 0; r < rows; r++) value.set(from.cache.get(h)!.data, r * per);
      masked[h] = { value, mask: new Uint8Array(rows * per) };
    }
    chunk.forEach((n, r) => {
      const mask = masked[n.hook]!.mask;
      forEachElement(n, model.hookShape(n.hook, T), (i) => (mask[r * size.get(n.hook)! + i] = 1));
    });
    await run.checkpoint(rows);
    const logits = await model.run(Array.from({ length: rows }, () => target), { masked });
    chunk.forEach((n, r) => scores.push({ ...n, score: metricOf(metric, logits, r) - base }));
  }
  const other = metricOf(metric, from.logits, 0);
  const values = mode === 'noising' ? { clean: base, corrupt: other } : { clean: other, corrupt: base };
  return new NodeAttribution('activation-patching', scores, values, run.finish());
}
