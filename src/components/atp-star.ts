// AtP* (Kramár et al. 2024): attribution patching with the QK fix and GradDrop.
import { Budget } from '../core/budget.js';
import { InvalidArgumentError } from '../core/errors.js';
import { windowAt } from '../models/transformer/config.js';
import type { HookedTransformer, HookValues, MaskedPatch } from '../models/transformer/hooked-transformer.js';
import { NodeAttribution } from './node-attribution.js';
import { checkComponentOptions, ENGINE, componentNodes, forEachElement, metricCotangent, metricOf, type ComponentNode, type ComponentOptions, type NodeScore } from './nodes.js';

/**
 * AtP*: for each block l, a backward pass of M at the clean run with block l's attention and MLP
 * outputs gradient-stopped where they join the residual stream (GradDrop: they are fed as constants;
 * all L passes run as the L rows of one batched forward+backward);
 * a q or k node's estimate is `Σ (A' − A) · ∂M/∂A`, A the layer's clean attention pattern and A' the
 * pattern recomputed exactly with the node's corrupt queries or keys (QK fix; a GQA key changes every
 * query head of its group); other nodes use AtP's estimate. Score = `1/(L−1) Σ_l |estimate_l|`
 * (unsigned; a node's own block contributes 0). With `gradDrop: false`, one backward pass with the
 * full gradient and the signed estimate (AtP with the QK fix alone).
 *
 * Cost: 2 forward rows + L forward+backward rows (one per GradDrop block, in one run), + 1 forward for a
 * metric that is not linear in the logits. Needs L ≥ 2.
 * @see Kramár, Lieberum, Shah, Nanda (2024), "AtP*: An efficient and scalable method for localizing
 *   LLM behaviour to components", https://arxiv.org/abs/2403.00745
 * @throws {InvalidArgumentError} as `attributionPatching`, and for a model with one layer.
 */
export interface AtpStarOptions extends ComponentOptions {
  /** Average |estimate| over per-block gradient-dropped backward passes (default true). */
  readonly gradDrop?: boolean;
}

export async function atpStar(model: HookedTransformer, opts: AtpStarOptions): Promise<NodeAttribution> {
  const fn = 'atpStar';
  const { kinds, metric } = checkComponentOptions(model.config, opts, fn, true);
  if (kinds.includes('resid')) throw new InvalidArgumentError(`'${fn}' scores head and MLP nodes; 'resid' nodes are for activationPatching and attributionPatching`, { arg: 'nodes', fn, value: 'resid' });
  const { nLayers: L, family } = model.config;
  const gradDrop = opts.gradDrop ?? true;
  if (gradDrop && L < 2) throw new InvalidArgumentError(`'${fn}' needs a model with at least 2 layers (GradDrop averages over the other blocks), got ${L}`, { fn, layers: L });
  const T = opts.tokens.length;
  const nodes = componentNodes(model.config, kinds, T, opts.perPosition ?? false);
  const run = Budget.start(opts, { total: atpStarRows(L, gradDrop, metric.linear), fn, exact: true, model: ENGINE });
  await run.checkpoint(2);
  const rot = (l: number, x: 'q' | 'k') => (family === 'llama' ? `blocks.${l}.attn.hook_rot_${x}` : `blocks.${l}.attn.hook_${x}`);
  const layers = Array.from({ length: L }, (_, l) => l);
  const nodeHooks = [...new Set(nodes.map((n) => n.hook))];
  const qk = layers.flatMap((l) => [rot(l, 'q'), rot(l, 'k')]);
  const patterns = layers.map((l) => `blocks.${l}.attn.hook_pattern`);
  const outs = layers.flatMap((l) => [`blocks.${l}.hook_attn_out`, `blocks.${l}.hook_mlp_out`]);
  const lastPosition = metric.lastPosition === true;
  const clean = await model.runWithCache(opts.tokens, [...new Set([...nodeHooks, ...qk, ...patterns, ...outs])], { lastPosition });
  const corrupt = await model.runWithCache(opts.corruptTokens!, [...new Set([...nodeHooks, ...qk])], { lastPosition });
  // GradDrop for every block in ONE batched backward pass: row l feeds block l's attention and MLP
  // outputs as constants (mask 1, value = their clean value), which stops the gradient there
  const rows = gradDrop ? L : 1;
  const masked: Record<string, MaskedPatch> = {};
  if (gradDrop) {
    for (const h of outs) {
      const own = clean.cache.get(h)!.data;
      const value = new Float32Array(L * own.length);
      const mask = new Uint8Array(L * own.length);
      for (const l of layers) {
        value.set(own, l * own.length);
        if (h.startsWith(`blocks.${l}.`)) mask.fill(1, l * own.length, (l + 1) * own.length); // row l stops block l's outputs
      }
      masked[h] = { value, mask };
    }
  }
  const wrt = [...new Set([...nodeHooks, ...patterns])];
  if (!metric.linear) await run.checkpoint(1); // the clean forward M's gradient is taken at
  const cot = await metricCotangent(model, metric, opts.tokens, rows);
  await run.checkpoint(rows);
  const { gradients } = await model.gradients(Array.from({ length: rows }, () => opts.tokens), wrt, cot, { masked, lastPosition });
  const totals = new Float64Array(nodes.length);
  for (let l = 0; l < rows; l++) {
    const own = (h: string) => gradDrop && h.startsWith(`blocks.${l}.`);
    const row: HookValues = new Map([...gradients].map(([h, g]) => [h, { data: g.data.subarray((l * g.data.length) / rows, ((l + 1) * g.data.length) / rows), shape: [1, ...g.shape.slice(1)] }]));
    nodes.forEach((n, i) => {
      if (own(n.hook)) return;
      const kind = n.hook.slice(-1);
      const estimate = kind === 'q' || kind === 'k' ? qkFix(model, n, kind, clean.cache, corrupt.cache, row, rot(n.layer!, 'q'), rot(n.layer!, 'k'), T) : atp(model, n, clean.cache, corrupt.cache, row, T);
      totals[i]! += gradDrop ? Math.abs(estimate) : estimate;
    });
  }
  const scores: NodeScore[] = nodes.map((n, i) => ({ ...n, score: gradDrop ? totals[i]! / (L - 1) : totals[i]! }));
  const values = { clean: metricOf(metric, clean.logits, 0), corrupt: metricOf(metric, corrupt.logits, 0) };
  return new NodeAttribution('atp-star', scores, values, run.finish());
}

/** Model rows one `atpStar` call costs: 2 forward, one backward row per GradDrop block (or 1), one more for a metric not linear in the logits. */
export function atpStarRows(layers: number, gradDrop: boolean, linearMetric: boolean): number {
  return 2 + (gradDrop ? layers : 1) + (linearMetric ? 0 : 1);
}

/** AtP's linear estimate of one node with one backward pass's gradients. */
function atp(model: HookedTransformer, n: ComponentNode, clean: HookValues, corrupt: HookValues, grads: HookValues, T: number): number {
  const [c, x, g] = [corrupt.get(n.hook)!.data, clean.get(n.hook)!.data, grads.get(n.hook)!.data];
  let s = 0;
  forEachElement(n, model.hookShape(n.hook, T), (i) => (s += (c[i]! - x[i]!) * g[i]!));
  return s;
}

/** Σ (A' − A) · ∂M/∂A over the query heads the node feeds, A' recomputed with the node's corrupt q or k. */
function qkFix(model: HookedTransformer, n: ComponentNode, kind: 'q' | 'k', clean: HookValues, corrupt: HookValues, grads: HookValues, qHook: string, kHook: string, T: number): number {
  const { nHeads: H, nKvHeads: Hkv, dHead: dh } = model.config;
  const l = n.layer!;
  const slidingWindow = windowAt(model.config, l);
  const pattern = clean.get(`blocks.${l}.attn.hook_pattern`)!.data; // [1, H, T, T]
  const dA = grads.get(`blocks.${l}.attn.hook_pattern`)!.data;
  const q = clean.get(qHook)!.data; // [1, T, H, dh]
  const k = clean.get(kHook)!.data; // [1, T, Hkv, dh]
  const qc = corrupt.get(qHook)!.data;
  const kc = corrupt.get(kHook)!.data;
  const group = H / Hkv;
  const heads = kind === 'q' ? [n.head!] : Array.from({ length: group }, (_, j) => n.head! * group + j);
  const inNode = (p: number) => n.position === null || n.position === p;
  const scale = 1 / Math.sqrt(dh);
  let total = 0;
  const row = new Float64Array(T);
  for (const h of heads) {
    const kvh = Math.floor(h / group);
    for (let qi = 0; qi < T; qi++) {
      // only the rows (queries) or columns (keys) the node changes move
      if (kind === 'q' && !inNode(qi)) continue;
      if (kind === 'k' && !Array.from({ length: qi + 1 }, (_, kj) => kj).some(inNode)) continue;
      const qv = kind === 'q' ? qc : q;
      let max = -Infinity;
      for (let kj = 0; kj < T; kj++) {
        if (kj > qi || (slidingWindow !== undefined && qi - kj >= slidingWindow)) {
          row[kj] = -Infinity;
          continue;
        }
        const kv = kind === 'k' && inNode(kj) ? kc : k;
        let s = 0;
        for (let j = 0; j < dh; j++) s += qv[(qi * H + h) * dh + j]! * kv[(kj * Hkv + kvh) * dh + j]!;
        row[kj] = s * scale;
        max = Math.max(max, row[kj]!);
      }
      let z = 0;
      for (let kj = 0; kj < T; kj++) z += row[kj] === -Infinity ? 0 : Math.exp(row[kj]! - max);
      for (let kj = 0; kj < T; kj++) {
        const a = row[kj] === -Infinity ? 0 : Math.exp(row[kj]! - max) / z;
        const at = (h * T + qi) * T + kj;
        total += (a - pattern[at]!) * dA[at]!;
      }
    }
  }
  return total;
}
