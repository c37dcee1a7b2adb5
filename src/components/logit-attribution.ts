// Direct logit attribution and the logit lens: the residual stream at the last position read through
// the final norm and the unembedding.
import { Budget } from '../core/budget.js';
import type { TransformerConfig } from '../models/transformer/config.js';
import type { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import type { TransformerParams } from '../models/transformer/layout.js';
import { NodeAttribution } from './node-attribution.js';
import { logitDifferenceMetric } from './metric.js';
import { answerPair, checkComponentOptions, ENGINE, metricOf, type ComponentOptions, type NodeScore } from './nodes.js';

/** The options checked (answer and wrong required), and the budget of the one forward row started. */
async function begin(model: HookedTransformer, opts: ComponentOptions, fn: string): Promise<{ answer: number; wrong: number; run: Budget }> {
  checkComponentOptions(model.config, opts, fn, false);
  const { answer, wrong } = answerPair(model.config, opts, fn);
  const run = Budget.start(opts, { total: 1, fn, exact: true, model: ENGINE });
  await run.checkpoint(1);
  return { answer, wrong, run };
}

/** W_U[:, answer] − W_U[:, wrong], [d]. */
function unembedDirection(params: TransformerParams, d: number, answer: number, wrong: number): Float64Array {
  const [, v] = params.unembed.dims as [number, number];
  return Float64Array.from({ length: d }, (_, i) => params.unembed.data[i * v + answer]! - params.unembed.data[i * v + wrong]!);
}

/**
 * Direct logit attribution (TransformerLens's residual decomposition at the last position with the
 * final norm's scale frozen): each head's output z_h · W_O[h], each layer's `hook_mlp_out`, the
 * embeddings and (GPT-2) the summed attention output biases, each scored
 * `(c − mean(c)) / s · (w_f ⊙ (W_U[:, answer] − W_U[:, wrong]))` (centred for LayerNorm only),
 * s = `ln_final.hook_scale` at the last position.
 *
 * Cost: 1 forward row. Axiom: the scores sum to M − `extra.unembedBiasTerm` (b_f · (W_U[:, a] − W_U[:, w])).
 * @see Elhage et al. (2021), "A Mathematical Framework for Transformer Circuits"
 */
export async function directLogitAttribution(model: HookedTransformer, opts: ComponentOptions): Promise<NodeAttribution> {
  const { answer, wrong, run } = await begin(model, opts, 'directLogitAttribution');
  const { config, params } = model;
  const { dModel: d, nHeads: h, dHead: dh, nLayers } = config;
  const T = opts.tokens.length;
  const hooks = ['ln_final.hook_scale', 'hook_embed', ...(params.pos ? ['hook_pos_embed'] : [])];
  for (let l = 0; l < nLayers; l++) hooks.push(`blocks.${l}.attn.hook_z`, `blocks.${l}.hook_mlp_out`);
  const { logits, cache } = await model.runWithCache(opts.tokens, hooks);
  const s = cache.get('ln_final.hook_scale')!.data[T - 1]!;
  const u = unembedDirection(params, d, answer, wrong);
  const dir = u.map((x, i) => x * params.lnFinal.w.data[i]!);
  const centred = config.family === 'gpt2';
  const score = (c: ArrayLike<number>, offset: number): number => {
    let mean = 0;
    if (centred) for (let i = 0; i < d; i++) mean += c[offset + i]! / d;
    let out = 0;
    for (let i = 0; i < d; i++) out += ((c[offset + i]! - mean) / s) * dir[i]!;
    return out;
  };
  const nodes: NodeScore[] = [];
  const last = (T - 1) * d;
  for (let l = 0; l < nLayers; l++) {
    const z = cache.get(`blocks.${l}.attn.hook_z`)!.data;
    const wo = params.layers[l]!.wo.data; // [H·dh, d]
    for (let head = 0; head < h; head++) {
      const c = new Float64Array(d);
      for (let j = 0; j < dh; j++) {
        const zj = z[((T - 1) * h + head) * dh + j]!;
        for (let i = 0; i < d; i++) c[i]! += zj * wo[(head * dh + j) * d + i]!;
      }
      nodes.push({ hook: `blocks.${l}.attn.hook_z`, layer: l, head, position: null, score: score(c, 0) });
    }
  }
  for (let l = 0; l < nLayers; l++) nodes.push({ hook: `blocks.${l}.hook_mlp_out`, layer: l, head: null, position: null, score: score(cache.get(`blocks.${l}.hook_mlp_out`)!.data, last) });
  nodes.push({ hook: 'hook_embed', layer: null, head: null, position: null, score: score(cache.get('hook_embed')!.data, last) });
  if (params.pos) nodes.push({ hook: 'hook_pos_embed', layer: null, head: null, position: null, score: score(cache.get('hook_pos_embed')!.data, last) });
  const biases = params.layers.filter((p) => p.bo);
  if (biases.length > 0) {
    const b = new Float64Array(d);
    for (const p of biases) for (let i = 0; i < d; i++) b[i]! += p.bo!.data[i]!;
    nodes.push({ hook: 'bias', layer: null, head: null, position: null, score: score(b, 0) });
  }
  const bf = params.lnFinal.b?.data;
  const unembedBiasTerm = bf ? u.reduce((acc, x, i) => acc + x * bf[i]!, 0) : 0;
  return new NodeAttribution('direct-logit-attribution', nodes, { clean: metricOf(logitDifferenceMetric(answer, wrong), logits, 0) }, run.finish(), { unembedBiasTerm, finalNormScale: s });
}

/** The final norm applied afresh to one residual vector, then projected on `u`. */
function lens(config: TransformerConfig, params: TransformerParams, x: ArrayLike<number>, offset: number, u: Float64Array): number {
  const d = config.dModel;
  let mean = 0;
  if (config.family === 'gpt2') for (let i = 0; i < d; i++) mean += x[offset + i]! / d;
  let sq = 0;
  for (let i = 0; i < d; i++) sq += (x[offset + i]! - mean) ** 2 / d;
  const scale = Math.sqrt(sq + config.normEps);
  const { w, b } = params.lnFinal;
  let out = 0;
  for (let i = 0; i < d; i++) out += ((x[offset + i]! - mean) / scale * w.data[i]! + (b ? b.data[i]! : 0)) * u[i]!;
  return out;
}

/**
 * Logit lens: for each layer, `ln_final` (its own mean and scale) applied to `blocks.{l}.hook_resid_post`
 * at the last position, then the unembedding; score = logit[answer] − logit[wrong].
 *
 * Cost: 1 forward row. Axiom: the last layer's score equals M on the clean run.
 * @see nostalgebraist (2020), "interpreting GPT: the logit lens"
 */
export async function logitLens(model: HookedTransformer, opts: ComponentOptions): Promise<NodeAttribution> {
  const { answer, wrong, run } = await begin(model, opts, 'logitLens');
  const { config, params } = model;
  const T = opts.tokens.length;
  const hooks = Array.from({ length: config.nLayers }, (_, l) => `blocks.${l}.hook_resid_post`);
  const { logits, cache } = await model.runWithCache(opts.tokens, hooks);
  const u = unembedDirection(params, config.dModel, answer, wrong);
  const nodes = hooks.map((hook, layer): NodeScore => ({ hook, layer, head: null, position: null, score: lens(config, params, cache.get(hook)!.data, (T - 1) * config.dModel, u) }));
  return new NodeAttribution('logit-lens', nodes, { clean: metricOf(logitDifferenceMetric(answer, wrong), logits, 0) }, run.finish());
}
