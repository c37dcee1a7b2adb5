// The nodes component attribution scores (one head's q/k/v/z slice, one layer's MLP output, over all
// positions or one), the logit-difference metric, and the options every component method takes.
import { InvalidArgumentError } from '../core/errors.js';
import type { TransformerConfig } from '../models/transformer/config.js';
import type { RunControl } from '../core/types.js';
import type { HostTensor } from '../models/model.js';
import type { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import { logitDifferenceMetric, type ComponentMetric } from './metric.js';

/**
 * What kind of node: one attention head's q, k, v or z, one layer's MLP output, or (`resid`) the
 * residual stream entering a layer (`blocks.{l}.hook_resid_pre`) at one position.
 */
export type NodeKind = 'z' | 'q' | 'k' | 'v' | 'mlp' | 'resid';
/** Every node kind. */
export const NODE_KINDS: readonly NodeKind[] = ['resid', 'z', 'q', 'k', 'v', 'mlp'];
/** The kinds scored when `nodes` is not given: every head's q/k/v/z and every MLP. */
export const DEFAULT_NODE_KINDS: readonly NodeKind[] = ['z', 'q', 'k', 'v', 'mlp'];

/** A node: a hook, and within it a head (k/v under GQA: the key-value head) and a position, or all. */
export interface ComponentNode {
  readonly hook: string;
  readonly layer: number | null;
  readonly head: number | null;
  readonly position: number | null;
}

/** A node and its score. */
export interface NodeScore extends ComponentNode {
  readonly score: number;
}

/** What every component method is given; `maxEvaluations` (rows), `signal` and `onProgress` as for every method. */
export interface ComponentOptions extends RunControl {
  /** Clean token ids. */
  readonly tokens: readonly number[];
  /** Corrupt token ids, the same length (patching and AtP). */
  readonly corruptTokens?: readonly number[];
  /** M = logits[last, answer] − logits[last, wrong] (the default metric; DLA and the logit lens need them). */
  readonly answer?: number;
  readonly wrong?: number;
  /** Another M for the patching methods (log-probability, KL, your own): see metric.ts. */
  readonly metric?: ComponentMetric;
  /** Node kinds to score. Default z, q, k, v, mlp (`resid`: per position, on request). */
  readonly nodes?: readonly NodeKind[];
  /** One node per position instead of one over all positions. */
  readonly perPosition?: boolean;
}

/** What the component methods report as their engine. */
export const ENGINE = { engine: 'onnx' } as const;

/** A human-readable id: `blocks.1.attn.hook_z[head=2][pos=5]`. */
export const nodeId = (n: ComponentNode): string => `${n.hook}${n.head === null ? '' : `[head=${n.head}]`}${n.position === null ? '' : `[pos=${n.position}]`}`;

/** The nodes of `kinds` for sequences of `seqLen` tokens, layer by layer (`resid` nodes always one per position). */
export function componentNodes(config: TransformerConfig, kinds: readonly NodeKind[], seqLen: number, perPosition: boolean): ComponentNode[] {
  const out: ComponentNode[] = [];
  const positions: (number | null)[] = perPosition ? Array.from({ length: seqLen }, (_, p) => p) : [null];
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const kind of NODE_KINDS) {
      if (!kinds.includes(kind)) continue;
      if (kind === 'resid') {
        for (let position = 0; position < seqLen; position++) out.push({ hook: `blocks.${layer}.hook_resid_pre`, layer, head: null, position });
        continue;
      }
      if (kind === 'mlp') {
        for (const position of positions) out.push({ hook: `blocks.${layer}.hook_mlp_out`, layer, head: null, position });
        continue;
      }
      const heads = kind === 'k' || kind === 'v' ? config.nKvHeads : config.nHeads;
      for (let head = 0; head < heads; head++) for (const position of positions) out.push({ hook: `blocks.${layer}.attn.hook_${kind}`, layer, head, position });
    }
  }
  return out;
}

/**
 * Calls `visit` with every flat index (within one batch row of the hook, shape `shape` = [pos, ...] or
 * [pos, head, dHead]) that belongs to the node.
 */
export function forEachElement(node: ComponentNode, shape: readonly number[], visit: (index: number) => void): void {
  const perPos = shape.slice(1).reduce((a, b) => a * b, 1);
  const inner = shape.length === 3 ? shape[2]! : perPos;
  const first = node.position ?? 0;
  const last = node.position ?? shape[0]! - 1;
  for (let p = first; p <= last; p++) {
    const base = p * perPos + (node.head === null ? 0 : node.head * inner);
    for (let j = 0; j < (node.head === null ? perPos : inner); j++) visit(base + j);
  }
}

/** M of row `row` of a logits batch [batch, pos, vocab]. */
export function metricOf(metric: ComponentMetric, logits: HostTensor, row: number): number {
  const [, T, V] = logits.shape as [number, number, number];
  return metric.value(logits.data.subarray(row * T * V, (row + 1) * T * V), T, V);
}

/**
 * ∂M/∂logits at the run of `tokens`, repeated for `rows` batch rows ([rows, pos, vocab]; pos = 1 for a
 * metric that reads only the last position, for runs with `lastPosition`): M's own gradient when it is
 * linear, else after one forward row (count it in the budget).
 */
export async function metricCotangent(model: HookedTransformer, metric: ComponentMetric, tokens: readonly number[], rows: number): Promise<Float32Array> {
  const lastPosition = metric.lastPosition === true;
  const [T, V] = [lastPosition ? 1 : tokens.length, model.config.vocabSize];
  const one = metric.linear ? metric.gradient(new Float32Array(T * V), T, V) : metric.gradient((await model.run(tokens, { lastPosition })).data, T, V);
  const out = new Float32Array(rows * T * V);
  for (let r = 0; r < rows; r++) out.set(one, r * T * V);
  return out;
}

/** `answer` and `wrong`, checked: token ids below the vocabulary size. */
export function answerPair(config: TransformerConfig, opts: ComponentOptions, fn: string): { readonly answer: number; readonly wrong: number } {
  for (const arg of ['answer', 'wrong'] as const) {
    const v = opts[arg];
    if (v === undefined || !Number.isInteger(v) || v < 0 || v >= config.vocabSize) {
      throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a token id in [0, ${config.vocabSize}), got ${v}`, { arg, fn, value: v, vocabSize: config.vocabSize });
    }
  }
  return { answer: opts.answer!, wrong: opts.wrong! };
}

/**
 * Checks the options against the model; returns the node kinds and M (`metric`, else the logit
 * difference of `answer` and `wrong`).
 */
export function checkComponentOptions(config: TransformerConfig, opts: ComponentOptions, fn: string, needsCorrupt: boolean): { readonly kinds: readonly NodeKind[]; readonly metric: ComponentMetric } {
  let metric = opts.metric;
  if (metric === undefined) {
    const { answer, wrong } = answerPair(config, opts, fn);
    metric = logitDifferenceMetric(answer, wrong);
  } else if (typeof metric.value !== 'function' || typeof metric.gradient !== 'function') {
    throw new InvalidArgumentError(`Argument 'metric' passed to '${fn}' must have value() and gradient() functions (see logProbMetric)`, { arg: 'metric', fn });
  }
  if (needsCorrupt && (!opts.corruptTokens || opts.corruptTokens.length !== opts.tokens.length)) {
    throw new InvalidArgumentError(`Argument 'corruptTokens' passed to '${fn}' must be as long as 'tokens' (${opts.tokens.length}), got ${opts.corruptTokens?.length ?? 'none'}`, { arg: 'corruptTokens', fn });
  }
  const kinds = opts.nodes ?? DEFAULT_NODE_KINDS;
  for (const k of kinds) {
    if (!NODE_KINDS.includes(k)) throw new InvalidArgumentError(`Argument 'nodes' passed to '${fn}' may hold ${NODE_KINDS.join(', ')}; got '${String(k)}'`, { arg: 'nodes', fn, value: k });
  }
  if (kinds.length === 0) throw new InvalidArgumentError(`Argument 'nodes' passed to '${fn}' must name at least one node kind (${NODE_KINDS.join(', ')})`, { arg: 'nodes', fn });
  return { kinds, metric };
}
