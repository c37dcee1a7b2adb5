// Many patched runs per forward batch, each row patching its own SET of nodes at once (noising: corrupt
// values into the clean run): what verification of single nodes and subset sampling both need.
import type { Budget } from '../core/budget.js';
import type { HookedTransformer, MaskedPatch } from '../models/transformer/hooked-transformer.js';
import type { ComponentMetric } from './metric.js';
import { forEachElement, metricOf, type ComponentNode } from './nodes.js';

/** The clean run, the corrupt values of the nodes' hooks, and how many rows one forward pass may take. */
export interface SubsetPatcher {
  /**
   * I = M(clean with the nodes `select` marks ← corrupt) − M(clean) for rows 0 … count − 1, in order:
   * `select(row, mark)` calls `mark(i)` for each node index i patched in that row; `record(row, I)`
   * receives the row's value once its forward pass has run. Rows run `rowsPerRun` at a time (`select`
   * is called for the rows of one pass just before it, so its caller holds one pass's rows at most);
   * the budget's `checkpoint` before each pass (budget, abort, progress).
   */
  run(count: number, select: (row: number, mark: (node: number) => void) => void, record: (row: number, value: number) => void, phase: string): Promise<void>;
  /** M of the clean and of the corrupt run. */
  readonly metric: { readonly clean: number; readonly corrupt: number };
  readonly rowsPerRun: number;
}

/**
 * Runs the clean and corrupt tokens once (2 rows: count them in `run`'s budget before calling) and
 * returns the patcher for `nodes`. Rows per forward pass: `batchSize` or fewer, so that one pass's
 * logits and masked patches stay within the model's `maxCacheBytes`.
 */
export async function subsetPatcher(model: HookedTransformer, tokens: readonly number[], corruptTokens: readonly number[], nodes: readonly ComponentNode[], metric: ComponentMetric, budget: Budget, batchSize: number): Promise<SubsetPatcher> {
  const T = tokens.length;
  const lastPosition = metric.lastPosition === true;
  const hooks = [...new Set(nodes.map((n) => n.hook))];
  const both = await model.runWithCache([tokens, corruptTokens], hooks, { lastPosition });
  const size = new Map(hooks.map((h) => [h, model.hookShape(h, T).reduce((a, b) => a * b, 1)]));
  const corrupt = new Map(hooks.map((h) => [h, both.cache.get(h)!.data.subarray(size.get(h)!, 2 * size.get(h)!)]));
  const clean = metricOf(metric, both.logits, 0);
  const rowBytes = 4 * (lastPosition ? 1 : T) * model.config.vocabSize + hooks.reduce((a, h) => a + 5 * size.get(h)!, 0);
  const rowsPerRun = Math.max(1, Math.min(batchSize, Math.floor(model.maxCacheBytes / rowBytes)));
  // each node's flat element indices within one row of its hook, found once
  const elements = nodes.map((n) => {
    const idx: number[] = [];
    forEachElement(n, model.hookShape(n.hook, T), (i) => idx.push(i));
    return Int32Array.from(idx);
  });
  // the corrupt values, repeated for a full run's rows (every row patches from the same corrupt run)
  const values = new Map(hooks.map((h) => [h, repeatRows(corrupt.get(h)!, rowsPerRun)]));
  return {
    metric: { clean, corrupt: metricOf(metric, both.logits, 1) },
    rowsPerRun,
    async run(count, select, record, phase) {
      for (let at = 0; at < count; at += rowsPerRun) {
        const rows = Math.min(rowsPerRun, count - at);
        const masked: Record<string, MaskedPatch> = Object.fromEntries(hooks.map((h) => [h, { value: values.get(h)!.subarray(0, rows * size.get(h)!), mask: new Uint8Array(rows * size.get(h)!) }]));
        for (let r = 0; r < rows; r++) {
          select(at + r, (i) => {
            const hook = nodes[i]!.hook;
            const [mask, offset] = [masked[hook]!.mask, r * size.get(hook)!];
            for (const e of elements[i]!) mask[offset + e] = 1;
          });
        }
        await budget.checkpoint(rows, phase);
        const logits = await model.run(Array.from({ length: rows }, () => tokens), { masked, lastPosition });
        for (let r = 0; r < rows; r++) record(at + r, metricOf(metric, logits, r) - clean);
      }
    },
  };
}

/** `rows` copies of `one`, back to back. */
export function repeatRows(one: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(rows * one.length);
  for (let r = 0; r < rows; r++) out.set(one, r * one.length);
  return out;
}
