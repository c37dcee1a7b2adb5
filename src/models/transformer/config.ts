// A Hugging Face `config.json` read into the few numbers a decoder-only transformer is built from.
import { ModelLoadError } from '../../core/errors.js';

/** The `model_type`s attrib builds. */
export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'qwen2', 'mistral'] as const;
export type TransformerModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** What a decoder-only transformer is, in TransformerLens's terms. */
export interface TransformerConfig {
  readonly modelType: TransformerModelType;
  /** 'gpt2': LayerNorm, learned positions, GELU MLP; 'llama': RMSNorm, rotary, gated SiLU MLP (llama, qwen2, mistral). */
  readonly family: 'gpt2' | 'llama';
  readonly nLayers: number;
  readonly nHeads: number;
  /** Key/value heads (GQA); equals nHeads without grouping. */
  readonly nKvHeads: number;
  readonly dModel: number;
  readonly dHead: number;
  readonly dMlp: number;
  readonly vocabSize: number;
  /** Longest sequence: learned positions for GPT-2 (a hard limit), `max_position_embeddings` for the others. */
  readonly maxPositions: number;
  readonly normEps: number;
  /** MLP activation: 'gelu_new' (tanh form), 'gelu' (erf form), 'relu' or 'silu'. */
  readonly activation: 'gelu_new' | 'gelu' | 'relu' | 'silu';
  /** Rotary base θ (llama family). */
  readonly ropeTheta: number;
  /** Keys further back than this many positions are masked (Mistral's sliding window), when set. */
  readonly slidingWindow?: number;
  /** The first layer the sliding window applies to (Qwen2's `max_window_layers`: layers below attend in full); 0 when absent. */
  readonly slidingWindowFrom?: number;
  /** q/k/v projections have biases (Qwen2, or `attention_bias`). */
  readonly qkvBias: boolean;
  /** The unembedding is the token embedding's transpose (when the weights have no `lm_head.weight`). */
  readonly tiedEmbeddings: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a parsed `config.json`.
 * @throws {ModelLoadError} `invalid_model` for a `model_type` attrib does not build (the message and
 *   `details.supported` list those it does) or a missing or invalid field (`details.field` names it).
 */
export function parseTransformerConfig(json: unknown, source = 'config.json'): TransformerConfig {
  if (!isRecord(json)) throw new ModelLoadError(`${source} must be a JSON object`, { source });
  const modelType = json.model_type;
  if (typeof modelType !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ModelLoadError(`${source}: model_type ${JSON.stringify(modelType)} is not supported; attrib builds ${SUPPORTED_MODEL_TYPES.join(', ')}`, {
      source,
      field: 'model_type',
      modelType,
      supported: [...SUPPORTED_MODEL_TYPES],
    });
  }
  const type = modelType as TransformerModelType;
  const int = (field: string, fallback?: number): number => {
    const v = json[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 24) {
      throw new ModelLoadError(`${source}: field '${field}' must be a positive integer, got ${JSON.stringify(json[field])}`, { source, field, value: json[field] });
    }
    return v;
  };
  const num = (field: string, fallback: number): number => {
    const v = json[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ModelLoadError(`${source}: field '${field}' must be a positive number, got ${JSON.stringify(v)}`, { source, field, value: v });
    return v;
  };
  const count = (field: string, fallback: number): number => {
    const v = json[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 24) throw new ModelLoadError(`${source}: field '${field}' must be a non-negative integer, got ${JSON.stringify(v)}`, { source, field, value: v });
    return v;
  };
  const bool = (field: string, fallback: boolean): boolean => {
    const v = json[field] ?? fallback;
    if (typeof v !== 'boolean') throw new ModelLoadError(`${source}: field '${field}' must be true or false, got ${JSON.stringify(v)}`, { source, field, value: v });
    return v;
  };
  if (type === 'gpt2') {
    const dModel = int('n_embd');
    const nHeads = int('n_head');
    const act = json.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu' && act !== 'relu') {
      throw new ModelLoadError(`${source}: activation_function ${JSON.stringify(act)} is not supported (gelu_new, gelu, relu)`, { source, field: 'activation_function', value: act });
    }
    if (dModel % nHeads !== 0) throw new ModelLoadError(`${source}: n_embd ${dModel} is not a multiple of n_head ${nHeads}`, { source, field: 'n_head' });
    return {
      modelType: type,
      family: 'gpt2',
      nLayers: int('n_layer'),
      nHeads,
      nKvHeads: nHeads,
      dModel,
      dHead: dModel / nHeads,
      dMlp: json.n_inner == null ? 4 * dModel : int('n_inner'),
      vocabSize: int('vocab_size'),
      maxPositions: int('n_positions'),
      normEps: num('layer_norm_epsilon', 1e-5),
      activation: act,
      ropeTheta: 10000,
      qkvBias: true,
      tiedEmbeddings: true,
    };
  }
  const dModel = int('hidden_size');
  const nHeads = int('num_attention_heads');
  const nKvHeads = int('num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) throw new ModelLoadError(`${source}: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`, { source, field: 'num_key_value_heads' });
  const act = json.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ModelLoadError(`${source}: hidden_act ${JSON.stringify(act)} is not supported (silu)`, { source, field: 'hidden_act', value: act });
  if (json.rope_scaling != null) throw new ModelLoadError(`${source}: rope_scaling is not supported (only plain rotary embeddings); set it to null`, { source, field: 'rope_scaling' });
  if (json.head_dim == null && dModel % nHeads !== 0) throw new ModelLoadError(`${source}: hidden_size ${dModel} is not a multiple of num_attention_heads ${nHeads}`, { source, field: 'head_dim' });
  const dHead = json.head_dim == null ? dModel / nHeads : int('head_dim');
  if (dHead % 2 !== 0) throw new ModelLoadError(`${source}: head_dim ${dHead} must be even for rotary embeddings`, { source, field: 'head_dim' });
  const window = type === 'mistral' || (type === 'qwen2' && json.use_sliding_window === true) ? json.sliding_window : undefined;
  return {
    modelType: type,
    family: 'llama',
    nLayers: int('num_hidden_layers'),
    nHeads,
    nKvHeads,
    dModel,
    dHead,
    dMlp: int('intermediate_size'),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings', 2048),
    normEps: num('rms_norm_eps', 1e-6),
    activation: 'silu',
    ropeTheta: num('rope_theta', 10000),
    ...(window == null ? {} : { slidingWindow: int('sliding_window'), slidingWindowFrom: type === 'qwen2' ? count('max_window_layers', 28) : 0 }),
    qkvBias: type === 'qwen2' || bool('attention_bias', false),
    tiedEmbeddings: bool('tie_word_embeddings', type === 'qwen2'),
  };
}

/** The sliding window of `layer` (keys this many positions back or further are masked), or undefined when it attends in full. */
export function windowAt(config: TransformerConfig, layer: number): number | undefined {
  return config.slidingWindow !== undefined && layer >= (config.slidingWindowFrom ?? 0) ? config.slidingWindow : undefined;
}
