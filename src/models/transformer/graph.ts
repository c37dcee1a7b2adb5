// A decoder-only transformer written as an ONNX graph for one sequence length, its intermediate
// tensors named as TransformerLens's hooks (each hook an Identity node that everything downstream reads,
// so a hook can be read, replaced or differentiated at by name).
import { floatTensor, int64Tensor, intAttr, intsAttr, makeModel, node } from '../onnx/graph/build.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/graph/proto.js';
import { windowAt, type TransformerConfig } from './config.js';
import { hook, type TransformerHookName } from './hook-names.js';
import type { NormParams, Param, TransformerParams } from './layout.js';

/** Graph input: token ids, int64 [batch, pos]. */
export const TOKENS = 'tokens';
/** Graph output: logits [batch, pos, vocab]. */
export const LOGITS = 'logits';
/** Graph inputs of a graph built with a past (`pastLen` > 0): layer l's cached keys and values, float32 [1, pastLen, kvHeads, dHead]. */
export const pastKey = (layer: number): string => `past_key.${layer}`;
export const pastValue = (layer: number): string => `past_value.${layer}`;

/** The graph and its hook points' shapes without the batch dimension, in forward order. */
export interface TransformerGraph {
  readonly model: ModelProto;
  readonly hooks: ReadonlyMap<string, readonly number[]>;
}

class Builder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly hooks = new Map<TransformerHookName, readonly number[]>();
  private counter = 0;
  private readonly scalars = new Map<number, string>();

  op(type: string, inputs: string[], attrs: ReturnType<typeof intAttr>[] = []): string {
    const out = `t${this.counter++}_${type.toLowerCase()}`;
    this.nodes.push(node(type, inputs, [out], attrs));
    return out;
  }
  param(name: string, p: Param): string {
    this.inits.push(floatTensor(name, p.dims, p.data));
    return name;
  }
  constant(dims: readonly number[], values: ArrayLike<number>): string {
    const name = `c${this.counter++}`;
    this.inits.push(floatTensor(name, dims, values));
    return name;
  }
  scalar(v: number): string {
    let name = this.scalars.get(v);
    if (!name) (name = this.constant([], [v])), this.scalars.set(v, name);
    return name;
  }
  ints(values: readonly number[]): string {
    const name = `i${this.counter++}`;
    this.inits.push(int64Tensor(name, [values.length], values));
    return name;
  }
  hook(name: TransformerHookName, x: string, shape: readonly number[]): string {
    this.nodes.push(node('Identity', [x], [name]));
    this.hooks.set(name, shape);
    return name;
  }
  affine(x: string, w: string, b: string | undefined): string {
    const y = this.op('MatMul', [x, w]);
    return b ? this.op('Add', [y, b]) : y;
  }
}

/**
 * The graph of `config`'s model for sequences of `seqLen` tokens (any batch). Causal mask, positions
 * and rotary tables are constants of that length. Float32 throughout.
 *
 * With `pastLen` P > 0 the tokens continue a prefix of P tokens whose keys and values (after rotary,
 * before the GQA repeat: what hook_k / hook_rot_k and hook_v hold) are the inputs `past_key.l` /
 * `past_value.l` [1, P, kvHeads, dHead], shared by every row: positions run from P, each query
 * attends to the P cached keys and its own causal prefix (pattern hooks are [head, T, P + T]), and
 * the logits are the tokens' only. The result equals the full run's on the last T positions.
 */
export function buildTransformerGraph(config: TransformerConfig, params: TransformerParams, seqLen: number, pastLen = 0): TransformerGraph {
  const g = new Builder();
  const { dModel: d, nHeads: h, nKvHeads: hkv, dHead: dh, dMlp: m, vocabSize: v, family } = config;
  const T = seqLen;
  const P = pastLen;
  const K = P + T;
  const opt = (name: string, p: Param | undefined): string | undefined => (p ? g.param(name, p) : undefined);

  const embed = g.hook(hook.embed, g.op('Gather', [g.param('W_E', params.embed), TOKENS], [intAttr('axis', 0)]), [T, d]);
  let resid: string;
  if (params.pos) {
    const table = g.constant([T, d], params.pos.data.subarray(P * d, K * d));
    const shape = g.op('Concat', [g.op('Shape', [TOKENS]), g.ints([d])], [intAttr('axis', 0)]);
    const pos = g.hook(hook.posEmbed, g.op('Expand', [table, shape]), [T, d]);
    resid = g.op('Add', [embed, pos]);
  } else resid = embed;

  const norm = (layer: number | 'final', which: 1 | 2, x: string, p: NormParams, name: string): string => {
    const mean = (t: string) => g.op('ReduceMean', [t], [intsAttr('axes', [-1]), intAttr('keepdims', 1)]);
    const centred = p.b ? g.op('Sub', [x, mean(x)]) : x;
    const scale = g.hook(hook.norm(layer, which, 'scale'), g.op('Sqrt', [g.op('Add', [mean(g.op('Mul', [centred, centred])), g.scalar(config.normEps)])]), [T, 1]);
    const scaled = g.op('Mul', [g.op('Div', [centred, scale]), g.param(`${name}.w`, p.w)]);
    return g.hook(hook.norm(layer, which, 'normalized'), p.b ? g.op('Add', [scaled, g.param(`${name}.b`, p.b)]) : scaled, [T, d]);
  };

  // causal (and sliding-window) masks, added to the scores: 0 where key ≤ query, −∞ elsewhere; one per
  // window a layer has (Qwen2's layers below max_window_layers attend in full)
  const masks = new Map<number | undefined, string>();
  const maskOf = (window: number | undefined): string => {
    let name = masks.get(window);
    if (name === undefined) {
      const mask = new Float32Array(T * K);
      for (let q = P; q < K; q++) for (let k = 0; k < K; k++) mask[(q - P) * K + k] = k > q || (window !== undefined && q - k >= window) ? -Infinity : 0;
      masks.set(window, (name = g.constant([T, K], mask)));
    }
    return name;
  };
  const rotary = family === 'llama' ? rotaryTables(g, P, T, dh, config.ropeTheta) : undefined;
  const group = h / hkv;
  // the past, broadcast over the batch: Expand([1, P, hkv, dh], [batch, 1, 1, 1])
  const batchOnes = P > 0 ? g.op('Concat', [g.op('Slice', [g.op('Shape', [TOKENS]), g.ints([0]), g.ints([1])]), g.ints([1, 1, 1])], [intAttr('axis', 0)]) : '';
  const withPast = (input: string, x: string) => (P > 0 ? g.op('Concat', [g.op('Expand', [input, batchOnes]), x], [intAttr('axis', 1)]) : x);

  for (let l = 0; l < params.layers.length; l++) {
    const p = params.layers[l]!;
    const at = `blocks.${l}`;
    const w = (name: string, x: Param) => g.param(`${at}.${name}`, x);
    resid = g.hook(hook.resid(l, 'pre'), resid, [T, d]);
    const x1 = norm(l, 1, resid, p.ln1, `${at}.ln1`);
    const heads = (x: string, n: number) => g.op('Reshape', [x, g.ints([0, 0, n, dh])]);
    const q = g.hook(hook.attn(l, 'q'), heads(g.affine(x1, w('W_Q', p.wq), opt(`${at}.b_Q`, p.bq)), h), [T, h, dh]);
    const k = g.hook(hook.attn(l, 'k'), heads(g.affine(x1, w('W_K', p.wk), opt(`${at}.b_K`, p.bk)), hkv), [T, hkv, dh]);
    const vv = g.hook(hook.attn(l, 'v'), heads(g.affine(x1, w('W_V', p.wv), opt(`${at}.b_V`, p.bv)), hkv), [T, hkv, dh]);
    let [qr, kr, vr] = [q, k, vv];
    if (rotary) {
      const rot = (x: string) => g.op('Add', [g.op('Mul', [x, rotary.cos]), g.op('Mul', [g.op('MatMul', [x, rotary.half]), rotary.sin])]);
      qr = g.hook(hook.attn(l, 'rot_q'), rot(q), [T, h, dh]);
      kr = g.hook(hook.attn(l, 'rot_k'), rot(k), [T, hkv, dh]);
    }
    kr = withPast(pastKey(l), kr);
    vr = withPast(pastValue(l), vr);
    if (group > 1) {
      // query head i reads key/value head ⌊i / group⌋ (HF repeat_kv)
      const idx = g.ints(Array.from({ length: h }, (_, i) => Math.floor(i / group)));
      kr = g.op('Gather', [kr, idx], [intAttr('axis', 2)]);
      vr = g.op('Gather', [vr, idx], [intAttr('axis', 2)]);
    }
    const qt = g.op('Transpose', [qr], [intsAttr('perm', [0, 2, 1, 3])]); // [b, H, T, dh]
    const kt = g.op('Transpose', [kr], [intsAttr('perm', [0, 2, 3, 1])]); // [b, H, dh, T]
    const raw = g.op('Mul', [g.op('MatMul', [qt, kt]), g.scalar(1 / Math.sqrt(dh))]);
    const scores = g.hook(hook.attn(l, 'attn_scores'), g.op('Add', [raw, maskOf(windowAt(config, l))]), [h, T, K]);
    const pattern = g.hook(hook.attn(l, 'pattern'), g.op('Softmax', [scores], [intAttr('axis', -1)]), [h, T, K]);
    const vt = g.op('Transpose', [vr], [intsAttr('perm', [0, 2, 1, 3])]);
    const z = g.hook(hook.attn(l, 'z'), g.op('Transpose', [g.op('MatMul', [pattern, vt])], [intsAttr('perm', [0, 2, 1, 3])]), [T, h, dh]);
    const flat = g.op('Reshape', [z, g.ints([0, 0, h * dh])]);
    const attnOut = g.hook(hook.block(l, 'attn_out'), g.affine(flat, w('W_O', p.wo), opt(`${at}.b_O`, p.bo)), [T, d]);
    resid = g.hook(hook.resid(l, 'mid'), g.op('Add', [resid, attnOut]), [T, d]);
    const x2 = norm(l, 2, resid, p.ln2, `${at}.ln2`);
    let post: string;
    if (p.wgate) {
      const gate = g.hook(hook.mlp(l, 'pre'), g.affine(x2, w('W_gate', p.wgate), opt(`${at}.b_gate`, p.bgate)), [T, m]);
      const lin = g.hook(hook.mlp(l, 'pre_linear'), g.affine(x2, w('W_in', p.win), opt(`${at}.b_in`, p.bin)), [T, m]);
      post = g.op('Mul', [activation(g, gate, config.activation), lin]);
    } else {
      const pre = g.hook(hook.mlp(l, 'pre'), g.affine(x2, w('W_in', p.win), opt(`${at}.b_in`, p.bin)), [T, m]);
      post = activation(g, pre, config.activation);
    }
    post = g.hook(hook.mlp(l, 'post'), post, [T, m]);
    const mlpOut = g.hook(hook.block(l, 'mlp_out'), g.affine(post, w('W_out', p.wout), opt(`${at}.b_out`, p.bout)), [T, d]);
    resid = g.hook(hook.resid(l, 'post'), g.op('Add', [resid, mlpOut]), [T, d]);
  }
  const final = norm('final', 1, resid, params.lnFinal, 'ln_final');
  g.nodes.push(node('MatMul', [final, g.param('W_U', params.unembed)], [LOGITS]));
  const model = makeModel({
    nodes: g.nodes,
    inputs: [
      { name: TOKENS, shape: ['batch', T], elemType: 7 },
      ...(P > 0 ? params.layers.flatMap((_, l) => [pastKey(l), pastValue(l)].map((name) => ({ name, shape: [1, P, hkv, dh], elemType: 1 }))) : []),
    ],
    outputs: [{ name: LOGITS, shape: ['batch', T, v] }],
    initializers: g.inits,
    opset: 13,
  });
  return { model, hooks: g.hooks };
}

/** cos and sin [T, 1, dh] of positions from..from+T−1 (HF's rotate_half form) and the matrix R with x @ R = rotate_half(x). */
function rotaryTables(g: Builder, from: number, T: number, dh: number, theta: number): { cos: string; sin: string; half: string } {
  const half = dh / 2;
  const cos = new Float32Array(T * dh);
  const sin = new Float32Array(T * dh);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < dh; i++) {
      const angle = (from + t) * theta ** (-(2 * (i % half)) / dh);
      cos[t * dh + i] = Math.cos(angle);
      sin[t * dh + i] = Math.sin(angle);
    }
  }
  // rotate_half(x) = cat(−x[half:], x[:half]): out[i] = −x[i + half] (i < half), x[i − half] (i ≥ half)
  const r = new Float32Array(dh * dh);
  for (let i = 0; i < half; i++) (r[(i + half) * dh + i] = -1), (r[i * dh + i + half] = 1);
  return { cos: g.constant([T, 1, dh], cos), sin: g.constant([T, 1, dh], sin), half: g.constant([dh, dh], r) };
}

/** The MLP activation, in ops with gradient rules. */
function activation(g: Builder, x: string, act: TransformerConfig['activation']): string {
  switch (act) {
    case 'relu':
      return g.op('Relu', [x]);
    case 'silu':
      return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    case 'gelu':
      return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Erf', [g.op('Mul', [x, g.scalar(Math.SQRT1_2)])]), g.scalar(1)])]);
    case 'gelu_new': {
      // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
      const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
      const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
      return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
    }
  }
}
