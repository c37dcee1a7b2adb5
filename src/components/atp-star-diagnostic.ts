// AtP*'s diagnostic of remaining false negatives (Kramár et al. 2024, "Diagnostics"): verify the top
// K nodes exactly, sample random subsets of the rest, and bound every unverified node's effect.
import { Budget } from '../core/budget.js';
import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import type { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import { atpStar, atpStarRows, type AtpStarOptions } from './atp-star.js';
import type { MetricValues } from './node-attribution.js';
import { checkComponentOptions, componentNodes, ENGINE, nodeId, type ComponentNode, type NodeScore } from './nodes.js';
import { subsetPatcher } from './subset-patching.js';
import { SubsetStatistics, thetaStar, type BoundCorrection, type SubsetBound } from './subset-statistics.js';

/** The diagnostic's defaults: N subsets, inclusion probability p, level α, batch rows; K is ⌈verifyShare · nodes⌉ (≥ 1). */
export const DIAGNOSTIC_DEFAULTS = { samples: 1000, inclusionProbability: 0.1, alpha: 0.05, batchSize: 64, verifyShare: 0.1 } as const;

export interface AtpStarDiagnosticOptions extends AtpStarOptions {
  /** K: the nodes with the largest |AtP* score| verified by exact activation patching. Default ⌈10 % of the nodes⌉; 0 ≤ K < nodes. */
  readonly verify?: number;
  /** N: random subsets of the unverified nodes, one patched forward row each. Default 1000 (at least 2). */
  readonly samples?: number;
  /** p: each unverified node is in a subset independently with this probability, in (0, 1). Default 0.1 (see docs/transformers.md). */
  readonly inclusionProbability?: number;
  /** α: family-wise level of the bounds, Bonferroni-corrected over the unverified nodes, in (0, 1). Default 0.05. */
  readonly alpha?: number;
  /**
   * 'bonferroni' (default): each unverified node tested at α/|U|, so every bound (and the flagged list)
   * holds at once with confidence 1 − α. 'none': each at α; θ* still holds with 1 − α (an
   * intersection–union test), and is tighter, but the per-node bounds no longer hold simultaneously.
   */
  readonly correction?: BoundCorrection;
  /** θ of the flagged list: unverified nodes whose bound exceeds it. Default the smallest verified |c(n)|. */
  readonly threshold?: number;
  /** Scores to rank by instead of running `atpStar` (every node of `nodes`/`perPosition`, e.g. a previous AtP* result's `nodes`). */
  readonly scores?: readonly NodeScore[];
  /** Patched rows per forward pass (fewer when `maxCacheBytes` bounds them). Default 64. */
  readonly batchSize?: number;
}

/** A verified node: its ranking score and its exact activation-patching effect c(n). */
export interface VerifiedNode extends ComponentNode {
  readonly rankScore: number;
  /** c(n) = M(clean with n ← corrupt) − M(clean). */
  readonly score: number;
}

/** An unverified node: its ranking score, its subset-sampling estimate and the upper bound on |c(n)|. */
export interface UnverifiedNode extends ComponentNode, SubsetBound {
  readonly rankScore: number;
}

/** What `atpStarDiagnostic` returns (plain data; nothing to dispose). */
export interface AtpStarDiagnostic {
  /** The ranking scores (AtP*'s, or the `scores` given), in node order. */
  readonly scores: readonly NodeScore[];
  /** The top K by |score|, in rank order, with their exact effects. */
  readonly verified: readonly VerifiedNode[];
  /** The other nodes, in node order, with their estimates and bounds. */
  readonly unverified: readonly UnverifiedNode[];
  /** max over the unverified nodes of their upper bound: with confidence 1 − α, no unverified node has |c(n)| ≥ θ*, up to the subset estimate's interaction bias (see the function's caveat). */
  readonly thetaStar: number;
  /** The θ of `flagged` (null with K = 0 and no `threshold`). */
  readonly threshold: number | null;
  /** Unverified nodes whose upper bound exceeds `threshold` (candidates for false negatives, to verify next), largest bound first. */
  readonly flagged: readonly UnverifiedNode[];
  readonly verify: number;
  readonly samples: number;
  readonly inclusionProbability: number;
  readonly alpha: number;
  readonly correction: BoundCorrection;
  readonly seed: number;
  readonly metric: MetricValues;
  readonly diagnostics: { readonly evaluations: number; readonly elapsedMs: number; readonly truncated: boolean };
}

/**
 * AtP*'s diagnostic of remaining false negatives (Kramár, Lieberum, Shah, Nanda 2024, section
 * "Diagnostics", with its Algorithm 1 "Subsampling"), implemented as attrib reads the paper (its full
 * text was not available here):
 * 1. rank the nodes by |AtP* score| (or by `scores`) and verify the top K by exact activation
 *    patching, c(n) = M(clean with n ← corrupt) − M(clean);
 * 2. draw N random subsets S of the unverified nodes U (each node in S with probability p, seeded),
 *    run each as one patched forward row (every node of S noised at once; many rows per batch) and
 *    keep, per node, the mean, sample standard deviation and count of I(S) = M(patched S) − M(clean)
 *    over the subsets containing it (ī+, s+, N+) and not containing it (ī−, s−, N−);
 * 3. estimate c(n) by ī+ − ī− and test H0: |c(n)| ≥ θ against H1: |c(n)| < θ with a one-sided Welch
 *    t-test at the least favourable simple null c(n) = θ·sign(ī+ − ī−), each at level α/|U|
 *    (Bonferroni; `correction: 'none'`: at α, which still bounds θ* but not every node at once); the
 *    node's upper bound θ(n) = |ī+ − ī−| + t_{1−α/|U|}(ν_n)·SE_n is the smallest θ
 *    it rejects, and θ* = max θ(n).
 * Caveat: ī+ − ī− is the node's average marginal effect over random contexts in which a fraction p of
 * the other unverified nodes is also noised, not c(n) itself; the bound covers c(n) only up to that
 * interaction bias (exactly, on an additive game). A small p keeps the contexts close to the clean run.
 *
 * Cost: AtP*'s rows (unless `scores` is given) + 2 + K + N forward rows, the K + N patched ones
 * `batchSize` (or fewer, within `maxCacheBytes`) to a forward pass from the embeddings; checked against
 * `maxEvaluations` before any work; `signal` aborts between passes.
 * @see Kramár, Lieberum, Shah, Nanda (2024), https://arxiv.org/abs/2403.00745
 * @throws {InvalidArgumentError} as `atpStar`; for `verify`, `samples`, `inclusionProbability`, `alpha`,
 *   `threshold`, `batchSize` or `scores` out of range, naming the argument.
 */
export async function atpStarDiagnostic(model: HookedTransformer, opts: AtpStarDiagnosticOptions): Promise<AtpStarDiagnostic> {
  const fn = 'atpStarDiagnostic';
  const { kinds, metric } = checkComponentOptions(model.config, opts, fn, true);
  if (kinds.includes('resid')) throw new InvalidArgumentError(`'${fn}' scores head and MLP nodes as atpStar does; 'resid' nodes are for activationPatching and attributionPatching`, { arg: 'nodes', fn, value: 'resid' });
  const nodes = componentNodes(model.config, kinds, opts.tokens.length, opts.perPosition ?? false);
  const { verify, samples, p, alpha, correction, batchSize, seed } = checkDiagnosticOptions(opts, nodes.length, fn);
  const given = opts.scores === undefined ? undefined : matchScores(nodes, opts.scores, fn);
  const rankRows = given ? 0 : atpStarRows(model.config.nLayers, opts.gradDrop ?? true, metric.linear);
  const run = Budget.start(opts, { total: rankRows + 2 + verify + samples, fn, exact: true, model: ENGINE });
  const scores = given ?? (await rankByAtpStar(model, opts, run, rankRows));
  await run.checkpoint(2, 'clean and corrupt runs');
  const patcher = await subsetPatcher(model, opts.tokens, opts.corruptTokens!, nodes, metric, run, batchSize);
  // rank by |score|, ties in node order
  const order = nodes.map((_, i) => i).sort((a, b) => Math.abs(scores[b]!.score) - Math.abs(scores[a]!.score) || a - b);
  const top = order.slice(0, verify);
  const chosen = new Set(top);
  const rest = nodes.map((_, i) => i).filter((i) => !chosen.has(i));
  const exact = new Float64Array(verify);
  await patcher.run(verify, (row, mark) => mark(top[row]!), (row, value) => (exact[row] = value), 'verifying');
  const verified: VerifiedNode[] = top.map((i, r) => ({ ...nodes[i]!, rankScore: scores[i]!.score, score: exact[r]! }));
  // subsets of the unverified nodes, drawn row by row in order (the same seed gives the same subsets at
  // any batch size); a row's membership is kept until its value is recorded (one forward pass's rows)
  const rng = new Rng(seed);
  const stats = new SubsetStatistics(rest.length);
  const pending = new Map<number, Uint8Array>();
  const draw = (row: number, mark: (node: number) => void) => {
    const m = new Uint8Array(rest.length);
    for (let j = 0; j < rest.length; j++) {
      if (rng.next() < p) {
        m[j] = 1;
        mark(rest[j]!);
      }
    }
    pending.set(row, m);
  };
  await patcher.run(samples, draw, (row, value) => {
    stats.add(pending.get(row)!, value);
    pending.delete(row);
  }, 'subset sampling');
  const bounds = stats.bounds(alpha, correction);
  const unverified: UnverifiedNode[] = rest.map((i, j) => ({ ...nodes[i]!, rankScore: scores[i]!.score, ...bounds[j]! }));
  const threshold = opts.threshold ?? (verified.length > 0 ? Math.min(...verified.map((v) => Math.abs(v.score))) : null);
  const flagged = threshold === null ? [] : unverified.filter((u) => u.upperBound > threshold).sort((a, b) => b.upperBound - a.upperBound);
  return { scores, verified, unverified, thetaStar: thetaStar(bounds), threshold, flagged, verify, samples, inclusionProbability: p, alpha, correction, seed, metric: patcher.metric, diagnostics: run.finish() };
}

/** AtP*'s scores of every node (its own budget inside; its rows counted in `run` first). */
async function rankByAtpStar(model: HookedTransformer, opts: AtpStarDiagnosticOptions, run: Budget, rows: number): Promise<readonly NodeScore[]> {
  await run.checkpoint(rows, 'AtP*');
  const { maxEvaluations: _max, onProgress: _progress, ...rest } = opts;
  const star = await atpStar(model, rest);
  star.dispose();
  return star.nodes;
}

/** The diagnostic as JSON for `attrib components --diagnose` (no `scores`: they are the output's `nodes`; an infinite bound is null). */
export function diagnosticJson(d: AtpStarDiagnostic): Record<string, unknown> {
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  const bound = (u: UnverifiedNode) => ({ hook: u.hook, layer: u.layer, head: u.head, position: u.position, rankScore: u.rankScore, estimate: finite(u.estimate), standardError: finite(u.standardError), df: finite(u.df), upperBound: finite(u.upperBound), included: u.included, excluded: u.excluded });
  const { elapsedMs, evaluations } = d.diagnostics;
  return {
    verify: d.verify, samples: d.samples, inclusionProbability: d.inclusionProbability, alpha: d.alpha, correction: d.correction, seed: d.seed,
    thetaStar: finite(d.thetaStar), threshold: d.threshold,
    verified: d.verified.map(({ hook, layer, head, position, rankScore, score }) => ({ hook, layer, head, position, rankScore, score })),
    flagged: d.flagged.map((u) => nodeId(u)),
    unverified: d.unverified.map(bound),
    diagnostics: { elapsedMs, evaluations },
  };
}

function checkDiagnosticOptions(opts: AtpStarDiagnosticOptions, count: number, fn: string) {
  const bad = (arg: string, want: string, value: unknown) => new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be ${want}, got ${String(value)}`, { arg, fn, value });
  const verify = opts.verify ?? Math.min(count - 1, Math.max(1, Math.ceil(DIAGNOSTIC_DEFAULTS.verifyShare * count)));
  if (!Number.isInteger(verify) || verify < 0 || verify >= count) throw bad('verify', `an integer in [0, ${count - 1}] (fewer than the ${count} nodes: the rest are what the diagnostic bounds)`, verify);
  const samples = opts.samples ?? DIAGNOSTIC_DEFAULTS.samples;
  if (!Number.isInteger(samples) || samples < 2) throw bad('samples', 'an integer ≥ 2 (subsets to sample)', samples);
  const p = opts.inclusionProbability ?? DIAGNOSTIC_DEFAULTS.inclusionProbability;
  if (!(p > 0 && p < 1)) throw bad('inclusionProbability', 'a probability in (0, 1)', p);
  const alpha = opts.alpha ?? DIAGNOSTIC_DEFAULTS.alpha;
  if (!(alpha > 0 && alpha < 1)) throw bad('alpha', 'a level in (0, 1)', alpha);
  const correction = opts.correction ?? 'bonferroni';
  if (correction !== 'bonferroni' && correction !== 'none') throw bad('correction', "'bonferroni' or 'none'", correction);
  if (opts.threshold !== undefined && !(opts.threshold >= 0 && Number.isFinite(opts.threshold))) throw bad('threshold', 'a finite number ≥ 0', opts.threshold);
  const batchSize = opts.batchSize ?? DIAGNOSTIC_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw bad('batchSize', 'a positive integer', batchSize);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw bad('seed', 'an integer', seed);
  return { verify, samples, p, alpha, correction, batchSize, seed };
}

/** `scores` in the order of `nodes`, every node present once by id. */
function matchScores(nodes: readonly ComponentNode[], scores: readonly NodeScore[], fn: string): readonly NodeScore[] {
  const byId = new Map(scores.map((s) => [nodeId(s), s]));
  return nodes.map((n) => {
    const s = byId.get(nodeId(n));
    if (!s || !Number.isFinite(s.score)) throw new InvalidArgumentError(`Argument 'scores' passed to '${fn}' must score every node of 'nodes'/'perPosition' with a finite number; ${nodeId(n)} has ${s ? s.score : 'no score'}`, { arg: 'scores', fn, node: nodeId(n) });
    return s;
  });
}
