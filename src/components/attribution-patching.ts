// Attribution patching (AtP): a first-order estimate of every node's activation-patching effect from
// two forward passes and one backward pass.
import { Budget } from '../core/budget.js';
import type { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import { NodeAttribution } from './node-attribution.js';
import { checkComponentOptions, ENGINE, componentNodes, forEachElement, metricCotangent, metricOf, type ComponentOptions, type NodeScore } from './nodes.js';

/**
 * AtP: score(n) = Σ_{e ∈ n} (n_corrupt[e] − n_clean[e]) · ∂M/∂n[e] at the clean run, with
 * M = logits[last, answer] − logits[last, wrong]; every node's gradient comes from one backward pass.
 *
 * M is `opts.metric` (any `ComponentMetric`, e.g. `logProbMetric`), else the logit difference.
 *
 * Cost: 1 forward (corrupt) + 1 forward+backward (clean) rows, whatever the number of nodes (+1 forward
 * for a metric that is not linear in the logits, to evaluate its gradient at the clean run).
 * Axiom: exact for nodes on which M is linear; per-position scores sum to the all-position score.
 *
 * @see Nanda (2023), "Attribution patching"; Kramár et al. (2024), "AtP*", https://arxiv.org/abs/2403.00745
 * @throws {InvalidArgumentError} for an answer/wrong id out of range, corrupt tokens of another length
 *   or unknown node kinds; token errors as `HookedTransformer.run`.
 */
export async function attributionPatching(model: HookedTransformer, opts: ComponentOptions): Promise<NodeAttribution> {
  const { kinds, metric } = checkComponentOptions(model.config, opts, 'attributionPatching', true);
  const T = opts.tokens.length;
  const nodes = componentNodes(model.config, kinds, T, opts.perPosition ?? false);
  const hooks = [...new Set(nodes.map((n) => n.hook))];
  const rows = metric.linear ? 2 : 3;
  const run = Budget.start(opts, { total: rows, fn: 'attributionPatching', exact: true, model: ENGINE });
  await run.checkpoint(rows);
  const lastPosition = metric.lastPosition === true;
  const corrupt = await model.runWithCache(opts.corruptTokens!, hooks, { lastPosition });
  const clean = await model.gradients(opts.tokens, hooks, await metricCotangent(model, metric, opts.tokens, 1), { lastPosition });
  const scores: NodeScore[] = nodes.map((n) => {
    const [c, x, g] = [corrupt.cache.get(n.hook)!.data, clean.cache.get(n.hook)!.data, clean.gradients.get(n.hook)!.data];
    let s = 0;
    forEachElement(n, model.hookShape(n.hook, T), (i) => (s += (c[i]! - x[i]!) * g[i]!));
    return { ...n, score: s };
  });
  const values = { clean: metricOf(metric, clean.logits, 0), corrupt: metricOf(metric, corrupt.logits, 0) };
  return new NodeAttribution('atp', scores, values, run.finish());
}
