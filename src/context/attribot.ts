import type { SourceSpan } from '../core/result.js';
import type { AblationGame } from './game.js';
import { splitSources } from './sources.js';

export interface AttriBoTOptions {
  /** Groups kept after the first stage (AttriBoT's `keep_paragraphs`). Default 3. */
  readonly keepGroups?: number;
  /** Group of each source (contiguous ids 0..G−1); default: the paragraphs, else blocks of ⌈√n⌉ sources. */
  readonly groups?: Int32Array;
}

/**
 * AttriBoT's hierarchical attribution: leave-one-out over groups of sources (paragraphs) against the
 * full context; the `keepGroups` groups with the highest scores (ties kept) form a pruned context; then
 * leave-one-out of each source of the kept groups against the pruned context, score_i = v(pruned) −
 * v(pruned without i). Sources of the other groups are not refined and score 0 (the reference leaves
 * them unscored); their group's score is in `groupScores`.
 *
 * Cost: at most G + 1 + (sources in the kept groups) prompts besides the full context (the pruned
 * context is a cache hit when it is the full context or a stage-1 prompt).
 *
 * @see Liu, Kandpal, Raffel (2025), AttriBoT: A Bag of Tricks for Efficiently Approximating Leave-One-Out Context Attribution, https://arxiv.org/abs/2411.15102
 */
export async function attribot(game: AblationGame, full: number, opts: AttriBoTOptions = {}): Promise<{ scores: Float64Array; groupScores: Float64Array; kept: number[] }> {
  const n = game.n;
  const groups = opts.groups ?? defaultGroups(game.prompts.context, game.prompts.sources);
  const g = Math.max(...groups) + 1;
  // stage 1: drop each group from the full context
  const masks = new Uint8Array(g * n).fill(1);
  for (let i = 0; i < n; i++) masks[groups[i]! * n + i] = 0;
  const groupScores = (await game.values(masks, 'attribot groups')).map((v) => full - v);
  // keep the top groups (every group scoring at least the keepGroups-th score, as the reference does)
  const sorted = Float64Array.from(groupScores).sort();
  const cutoff = sorted[g - Math.min(opts.keepGroups ?? 3, g)]!;
  const kept = Array.from({ length: g }, (_, i) => i).filter((grp) => groupScores[grp]! >= cutoff);
  // stage 2: leave-one-out inside the pruned context
  const pruned = new Uint8Array(n);
  const inside: number[] = [];
  for (let i = 0; i < n; i++) if (kept.includes(groups[i]!)) (pruned[i] = 1), inside.push(i);
  const stage2 = new Uint8Array((inside.length + 1) * n);
  stage2.set(pruned, 0);
  inside.forEach((i, r) => {
    stage2.set(pruned, (r + 1) * n);
    stage2[(r + 1) * n + i] = 0;
  });
  const v = await game.values(stage2, 'attribot refinement');
  const scores = new Float64Array(n);
  inside.forEach((i, r) => (scores[i] = v[0]! - v[r + 1]!));
  return { scores, groupScores, kept };
}

/**
 * Groups of sources: the paragraphs of the context that hold them when that gives 2 to n − 1 groups,
 * else contiguous blocks of ⌈√n⌉ sources.
 */
export function defaultGroups(context: string, sources: readonly SourceSpan[]): Int32Array {
  const n = sources.length;
  const paragraphs = splitSources(context, 'paragraphs');
  const groups = new Int32Array(n);
  let p = 0;
  for (let i = 0; i < n; i++) {
    while (p + 1 < paragraphs.length && sources[i]!.start >= paragraphs[p]!.end) p++;
    groups[i] = p;
  }
  const ids = [...new Set(groups)];
  if (ids.length >= 2 && ids.length < n) return groups.map((x) => ids.indexOf(x));
  const size = Math.max(1, Math.ceil(Math.sqrt(n)));
  return groups.map((_, i) => Math.floor(i / size));
}
