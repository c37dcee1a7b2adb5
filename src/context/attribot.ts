import type { SourceSpan } from '../core/result.js';
import { leaveOneOutMasks, type AblationGame } from './game.js';
import { splitSources } from './sources.js';

export interface AttriBoTOptions {
  /** Prompts allowed besides the full context (the run's `ablations`). */
  readonly ablations: number;
  /** Group of each source (contiguous ids 0..G−1); default: the paragraphs, else blocks of ⌈√n⌉ sources. */
  readonly groups?: Int32Array;
}

/**
 * AttriBoT-style hierarchical leave-one-out: leave-one-out over groups of sources first (paragraphs,
 * or blocks), then leave-one-out of each source inside the top-scoring groups, taken in order of score
 * while their sources fit in the budget (at least the top group). A source of a group not refined gets
 * its group's score divided by the group's size (the group's drop shared evenly).
 *
 * Cost: G + Σ (sizes of the refined groups) prompts besides the full context, at most `ablations`
 * unless the top group alone is larger (single-source groups are reused from the first stage).
 *
 * @see Liu, Kandpal, Raffel (2025), AttriBoT: A Bag of Tricks for Efficiently Approximating Leave-One-Out Context Attribution, https://arxiv.org/abs/2411.15102
 */
export async function attribot(game: AblationGame, full: number, opts: AttriBoTOptions): Promise<{ scores: Float64Array; refined: number[] }> {
  const n = game.n;
  const groups = opts.groups ?? defaultGroups(game.prompts.context, game.prompts.sources);
  const g = Math.max(...groups) + 1;
  const members: number[][] = Array.from({ length: g }, () => []);
  groups.forEach((grp, i) => members[grp]!.push(i));
  // stage 1: drop each group
  const masks = new Uint8Array(g * n).fill(1);
  for (let i = 0; i < n; i++) masks[groups[i]! * n + i] = 0;
  const groupDrop = (await game.values(masks, 'attribot groups')).map((v) => full - v);
  // stage 2: inside the top groups, as many as the budget allows
  const order = Array.from({ length: g }, (_, i) => i).sort((a, b) => groupDrop[b]! - groupDrop[a]!);
  const refined: number[] = [];
  let left = opts.ablations - g;
  for (const grp of order) {
    const size = members[grp]!.length;
    if (size > 1 && size > left && refined.length > 0) break;
    refined.push(grp);
    if (size > 1) left -= size;
  }
  const scores = new Float64Array(n);
  for (let grp = 0; grp < g; grp++) for (const i of members[grp]!) scores[i] = groupDrop[grp]! / members[grp]!.length;
  const inside = refined.flatMap((grp) => members[grp]!);
  const drops = await game.values(leaveOneOutMasks(n, inside), 'attribot refinement');
  inside.forEach((i, r) => (scores[i] = full - drops[r]!));
  return { scores, refined };
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
