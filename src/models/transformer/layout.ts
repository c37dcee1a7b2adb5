// Hugging Face weight names and layouts → the matrices the graph multiplies by (x @ W, W [in, out]),
// every tensor's shape checked against the config.
import { ModelLoadError } from '../../core/errors.js';
import { permute } from '../onnx/graph/build.js';
import type { TransformerConfig } from './config.js';
import type { WeightStore, WeightTensor } from './weights.js';

/** A matrix or vector in the graph's layout. */
export interface Param {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export interface NormParams {
  readonly w: Param;
  /** LayerNorm only. */
  readonly b?: Param;
}

export interface LayerParams {
  readonly ln1: NormParams;
  readonly ln2: NormParams;
  /** [d, H·dHead], [d, Hkv·dHead], [d, Hkv·dHead]; biases when the model has them. */
  readonly wq: Param;
  readonly wk: Param;
  readonly wv: Param;
  readonly bq?: Param;
  readonly bk?: Param;
  readonly bv?: Param;
  /** [H·dHead, d] and its bias. */
  readonly wo: Param;
  readonly bo?: Param;
  /** [d, dMlp]: GPT-2's c_fc, LLaMA's up_proj (hook_pre_linear). */
  readonly win: Param;
  readonly bin?: Param;
  /** [d, dMlp]: LLaMA's gate_proj (hook_pre). */
  readonly wgate?: Param;
  readonly bgate?: Param;
  /** [dMlp, d] and its bias. */
  readonly wout: Param;
  readonly bout?: Param;
}

export interface TransformerParams {
  /** [V, d] */
  readonly embed: Param;
  /** [nPositions, d] (GPT-2). */
  readonly pos?: Param;
  readonly layers: readonly LayerParams[];
  readonly lnFinal: NormParams;
  /** [d, V] */
  readonly unembed: Param;
}

/**
 * The parameters of `config`'s model from `weights` (Hugging Face names; GPT-2 with or without the
 * `transformer.` prefix; a missing `lm_head.weight` means tied embeddings).
 * @throws {ModelLoadError} `invalid_model` naming a tensor whose shape does not match the config
 *   (details.tensor, expected, actual); a missing tensor throws the store's `invalid_file` naming it.
 */
export function readParams(config: TransformerConfig, weights: WeightStore): TransformerParams {
  const take = (name: string, dims: readonly number[]): WeightTensor => {
    const t = weights.get(name);
    if (t.shape.length !== dims.length || t.shape.some((d, i) => d !== dims[i])) {
      throw new ModelLoadError(`Weight '${name}' has shape [${t.shape.join(', ')}]; the config needs [${dims.join(', ')}]`, { tensor: name, expected: dims, actual: t.shape });
    }
    return t;
  };
  const as = (name: string, dims: readonly number[]): Param => ({ dims, data: take(name, dims).data });
  /** An nn.Linear weight [out, in] as [in, out]. */
  const linear = (name: string, out: number, inp: number): Param => ({ dims: [inp, out], data: permute(take(name, [out, inp]).data, [out, inp], [1, 0]) });
  const maybe = (name: string, dims: readonly number[], required = false): Param | undefined => (required || weights.has(name) ? as(name, dims) : undefined);
  const { dModel: d, nHeads: h, nKvHeads: hkv, dHead: dh, dMlp: m, vocabSize: v, nLayers } = config;
  if (config.family === 'gpt2') {
    const p = weights.has('transformer.wte.weight') ? 'transformer.' : '';
    const layers = Array.from({ length: nLayers }, (_, l): LayerParams => {
      const at = `${p}h.${l}.`;
      const attn = take(`${at}attn.c_attn.weight`, [d, 3 * d]);
      const bias = take(`${at}attn.c_attn.bias`, [3 * d]).data;
      // c_attn's columns are q | k | v
      const cols = (k: number): Param => {
        const out = new Float32Array(d * d);
        for (let r = 0; r < d; r++) out.set(attn.data.subarray(r * 3 * d + k * d, r * 3 * d + (k + 1) * d), r * d);
        return { dims: [d, d], data: out };
      };
      const part = (k: number): Param => ({ dims: [d], data: bias.slice(k * d, (k + 1) * d) });
      return {
        ln1: { w: as(`${at}ln_1.weight`, [d]), b: as(`${at}ln_1.bias`, [d]) },
        ln2: { w: as(`${at}ln_2.weight`, [d]), b: as(`${at}ln_2.bias`, [d]) },
        wq: cols(0),
        wk: cols(1),
        wv: cols(2),
        bq: part(0),
        bk: part(1),
        bv: part(2),
        wo: as(`${at}attn.c_proj.weight`, [d, d]),
        bo: as(`${at}attn.c_proj.bias`, [d]),
        win: as(`${at}mlp.c_fc.weight`, [d, m]),
        bin: as(`${at}mlp.c_fc.bias`, [m]),
        wout: as(`${at}mlp.c_proj.weight`, [m, d]),
        bout: as(`${at}mlp.c_proj.bias`, [d]),
      };
    });
    const embed = as(`${p}wte.weight`, [v, d]);
    return {
      embed,
      pos: as(`${p}wpe.weight`, [config.maxPositions, d]),
      layers,
      lnFinal: { w: as(`${p}ln_f.weight`, [d]), b: as(`${p}ln_f.bias`, [d]) },
      unembed: weights.has('lm_head.weight') ? linear('lm_head.weight', v, d) : { dims: [d, v], data: permute(embed.data, [v, d], [1, 0]) },
    };
  }
  const layers = Array.from({ length: nLayers }, (_, l): LayerParams => {
    const at = `model.layers.${l}.`;
    const opt = (key: string, name: string, dims: readonly number[], required = false): Partial<Record<string, Param>> => {
      const b = maybe(`${at}${name}.bias`, dims, required);
      return b ? { [key]: b } : {};
    };
    return {
      ln1: { w: as(`${at}input_layernorm.weight`, [d]) },
      ln2: { w: as(`${at}post_attention_layernorm.weight`, [d]) },
      wq: linear(`${at}self_attn.q_proj.weight`, h * dh, d),
      wk: linear(`${at}self_attn.k_proj.weight`, hkv * dh, d),
      wv: linear(`${at}self_attn.v_proj.weight`, hkv * dh, d),
      ...opt('bq', 'self_attn.q_proj', [h * dh], config.qkvBias),
      ...opt('bk', 'self_attn.k_proj', [hkv * dh], config.qkvBias),
      ...opt('bv', 'self_attn.v_proj', [hkv * dh], config.qkvBias),
      wo: linear(`${at}self_attn.o_proj.weight`, d, h * dh),
      ...opt('bo', 'self_attn.o_proj', [d]),
      win: linear(`${at}mlp.up_proj.weight`, m, d),
      ...opt('bin', 'mlp.up_proj', [m]),
      wgate: linear(`${at}mlp.gate_proj.weight`, m, d),
      ...opt('bgate', 'mlp.gate_proj', [m]),
      wout: linear(`${at}mlp.down_proj.weight`, d, m),
      ...opt('bout', 'mlp.down_proj', [d]),
    } as LayerParams;
  });
  const embed = as('model.embed_tokens.weight', [v, d]);
  const tied = !weights.has('lm_head.weight');
  if (tied && !config.tiedEmbeddings) weights.get('lm_head.weight'); // throws, naming the missing tensor
  return {
    embed,
    layers,
    lnFinal: { w: as('model.norm.weight', [d]) },
    unembed: tied ? { dims: [d, v], data: permute(embed.data, [v, d], [1, 0]) } : linear('lm_head.weight', v, d),
  };
}
