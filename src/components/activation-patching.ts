// Activation patching: each node of the clean run replaced by its corrupt value (noising), or of the
// corrupt run by its clean value (denoising), everything downstream recomputed, many patched runs per
// forward batch, each starting at its node's layer.
import { Budget } from '../core/budget.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { HookedTransformer, MaskedPatch } from '../models/transformer/hooked-transformer.js';
import { NodeAttribution } from './node-attribution.js';
import { checkComponentOptions, ENGINE, componentNodes, forEachElement, metricOf, type ComponentOptions, type NodeScore } from './nodes.js';
import { repeatRows } from './subset-patching.js';

/**
 * Activation patching: score(n) = M(clean run with n ← n(corrupt run)) − M(clean) ("noising", the
 * default), or with `mode: 'denoising'` M(corrupt run with n ← n(clean run)) − M(corrupt), with
 * M = logits[last, answer] − logits[last, wrong]. Each batch row of one forward pass patches a
 * different node of one layer l (the layer's patched hooks are `mask ? corrupt : own value`, the mask
 * set on that row's node; a `resid` node replaces its position of the stream), and the run starts at
 * `blocks.{l}.hook_resid_pre` of the patched run, fed from its cache: the layers below l are not
 * recomputed (they are the same in every row). With a metric of the last position (the built-in
 * ones), only the last position is unembedded.
 *
 * Cost: nodes + 2 forward rows — the patched rows from their layer on — in Σ_l ⌈nodes_l / rows⌉ + 2
 * runs, rows = `batchSize` (default 64) or fewer so that one run's inputs and logits stay within the
 * model's `maxCacheBytes`; checked against `maxEvaluations` before any work; `signal` aborts between
 * runs. Memory: the model compiles one session per patched layer.
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
  const mode = opts.mode ?? 'noising';
  if (mode !== 'noising' && mode !== 'denoising') throw new InvalidArgumentError(`Argument 'mode' passed to '${fn}' must be 'noising' or 'denoising', got '${String(mode)}'`, { arg: 'mode', fn });
  const T = opts.tokens.length;
  const nodes = componentNodes(model.config, kinds, T, opts.perPosition ?? false);
  const run = Budget.start(opts, { total: nodes.length + 2, fn, exact: true, model: ENGINE });
  await run.checkpoint(2);
  const lastPosition = metric.lastPosition === true;
  const hooks = [...new Set(nodes.map((n) => n.hook))];
  const layers = [...new Set(nodes.map((n) => n.layer!))];
  const start = (l: number) => `blocks.${l}.hook_resid_pre`;
  // the run that is patched, and the run the patched values come from
  const [target, source] = mode === 'noising' ? [opts.tokens, opts.corruptTokens!] : [opts.corruptTokens!, opts.tokens];
  // both runs in one batch (one session): row 0 the patched run, row 1 the source of the patched values
  const both = await model.runWithCache([target, source], [...new Set([...hooks, ...layers.map(start)])], { lastPosition });
  const cached = (h: string, row: number) => {
    const all = both.cache.get(h)!.data;
    return all.subarray((row * all.length) / 2, ((row + 1) * all.length) / 2);
  };
  const from = { cache: new Map(hooks.map((h) => [h, { data: cached(h, 1) }])) };
  const into = { cache: new Map(layers.map((l) => [start(l), { data: cached(start(l), 0) }])) };
  const base = metricOf(metric, both.logits, 0);
  const size = (h: string) => model.hookShape(h, T).reduce((a, b) => a * b, 1);
  const scores: NodeScore[] = [];
  // each run starts at one layer's residual stream (the target run's, fed as an input: the layers
  // below are not recomputed) and patches nodes of that layer, one per row
  for (const layer of layers) {
    const group = nodes.filter((n) => n.layer === layer);
    const masked = [...new Set(group.map((n) => n.hook))].filter((h) => h !== start(layer));
    const rowBytes = 4 * (lastPosition ? 1 : T) * model.config.vocabSize + 4 * size(start(layer)) + masked.reduce((a, h) => a + 5 * size(h), 0);
    const rowsPerRun = Math.max(1, Math.min(batchSize, Math.floor(model.maxCacheBytes / rowBytes)));
    for (let at = 0; at < group.length; at += rowsPerRun) {
      const chunk = group.slice(at, at + rowsPerRun);
      const rows = chunk.length;
      const fed = repeatRows(into.cache.get(start(layer))!.data, rows);
      const patches: Record<string, MaskedPatch> = Object.fromEntries(masked.map((h) => [h, { value: repeatRows(from.cache.get(h)!.data, rows), mask: new Uint8Array(rows * size(h)) }]));
      chunk.forEach((n, r) => {
        const own = r * size(n.hook);
        if (n.hook === start(layer)) {
          const value = from.cache.get(n.hook)!.data;
          forEachElement(n, model.hookShape(n.hook, T), (i) => (fed[own + i] = value[i]!)); // a resid node: its position of the fed stream
        } else forEachElement(n, model.hookShape(n.hook, T), (i) => (patches[n.hook]!.mask[own + i] = 1));
      });
      await run.checkpoint(rows);
      const logits = await model.run(Array.from({ length: rows }, () => target), { patches: { [start(layer)]: fed }, masked: patches, lastPosition });
      chunk.forEach((n, r) => scores.push({ ...n, score: metricOf(metric, logits, r) - base }));
    }
  }
  const other = metricOf(metric, both.logits, 1);
  const values = mode === 'noising' ? { clean: base, corrupt: other } : { clean: other, corrupt: base };
  return new NodeAttribution('activation-patching', scores, values, run.finish());
}
