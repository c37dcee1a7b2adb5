import type * as tf from '@tensorflow/tfjs-core';

/**
 * What to attribute. An output index for every row, one index per row, `'auto'` (each row's arg-max,
 * costing one forward row per input), or a function of the model output giving one scalar per row.
 * Index targets address the output flattened over its non-batch dims.
 */
export type Target = number | readonly number[] | 'auto' | ((output: tf.Tensor) => tf.Tensor);

/**
 * What gradients are taken of: maps the model output [batch, ...] to [batch]. Index objectives also
 * carry `targetIndices` (the output index of each batch row), so an engine can seed its backward pass
 * with a one-hot cotangent.
 */
export type Objective = ((output: tf.Tensor) => tf.Tensor) & { readonly targetIndices?: Int32Array };

/**
 * The reference input. `'zeros'` (default), a scalar fill value, a tensor that broadcasts to the
 * input (one row `[...features]`, `[1, ...features]` or one per row `[batch, ...features]`), or a
 * function of the input. Methods that sample baselines (GradientSHAP, Expected Gradients) read a
 * tensor `[samples, ...features]` as a distribution.
 */
export type Baseline = number | tf.Tensor | 'zeros' | ((x: tf.Tensor) => tf.Tensor);

export interface Progress {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
}

export interface RunControl {
  /** Max rows per model call: the only batching knob. Default 128. */
  readonly batchSize?: number;
  /** Budget in model rows (a forward row, or a forward+backward row). */
  readonly maxEvaluations?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly seed?: number;
  /**
   * Size model calls by `batchSize` alone, never by measured wall time. By default calls are cut to
   * about `CHUNK_TARGET_MS` each (so that an abort is prompt), which makes the batches, and so the
   * last bits of summed results, depend on the machine's load; with `fixedChunks` the same call gives
   * bit-identical results from run to run (dataset jobs set it). Default false.
   */
  readonly fixedChunks?: boolean;
}

export interface AttributeOptions extends RunControl {
  readonly target: Target;
  readonly baselines?: Baseline;
  /**
   * The model's other named inputs (e.g. an attention mask), one row per input row, held fixed
   * while the attributed input `x` is perturbed or differentiated (Captum's additional_forward_args).
   */
  readonly inputs?: Readonly<Record<string, tf.Tensor>>;
}

export const DEFAULT_BATCH_SIZE = 128;

/** Ids of the methods in the registry (kebab-case, stable across the library, CLI and UI). */
export type MethodId =
  | 'saliency'
  | 'input-x-gradient'
  | 'integrated-gradients'
  | 'noise-tunnel'
  | 'gradient-shap'
  | 'expected-gradients'
  | 'occlusion'
  | 'feature-ablation'
  | 'feature-permutation'
  | 'shapley-values'
  | 'shapley-value-sampling'
  | 'kernel-shap'
  | 'lime'
  | 'rise'
  | 'sobol'
  | 'hsic'
  | 'extremal-perturbation'
  | 'lima'
  | 'layer-activation'
  | 'layer-gradient-x-activation'
  | 'layer-integrated-gradients'
  | 'layer-conductance'
  | 'internal-influence'
  | 'layer-gradcam'
  | 'gradcam-plus-plus'
  | 'layer-cam'
  | 'score-cam'
  | 'neuron-gradient'
  | 'neuron-integrated-gradients'
  | 'neuron-conductance'
  | 'guided-backprop'
  | 'deconvolution'
  | 'guided-gradcam'
  | 'deeplift'
  | 'deeplift-shap'
  | 'layer-deeplift'
  | 'lrp'
  | 'random';

/** A configured feature-attribution method: settings in the constructor, data per call. */
export interface Attributor<O extends RunControl = AttributeOptions> {
  readonly id: MethodId;
  /** Model rows one call on an input of this shape will evaluate (the budget it is checked against). */
  cost(shape: readonly number[], opts: O): number;
  attribute(x: tf.Tensor, opts: O): Promise<AttributionLike>;
}

/** Structural view of `FeatureAttribution | LayerAttribution` (result.ts), to keep this module type-only. */
export interface AttributionLike extends Disposable {
  readonly kind: 'feature' | 'layer';
  /** Hook name, for layer attributions. */
  readonly layer?: string;
  readonly method: MethodId;
  readonly values: tf.Tensor;
  readonly diagnostics: Diagnostics;
  dispose(): void;
}

/** The runtime that ran a model: TF.js, or ONNX Runtime. */
export type EngineName = 'tfjs' | 'onnx';

/** What a model adapter tells a result about its runtime (structural: `ModelAdapter` fields). */
export interface EngineSource {
  /** The runtime; absent for black-box functions. */
  readonly engine?: EngineName;
  /** Milliseconds spent so far compiling backward graphs and creating their sessions (cumulative). */
  readonly compileMs?: number;
}

export interface Diagnostics {
  /** Model rows evaluated (a forward row, or a forward+backward row). */
  readonly evaluations: number;
  /** Wall time of the call, compile time (`compileMs`) included. */
  readonly elapsedMs: number;
  /** The runtime that ran the model ('tfjs' or 'onnx'), when the model says. */
  readonly engine?: EngineName;
  /**
   * Part of `elapsedMs` spent compiling backward graphs and creating sessions (the first call on a
   * model, or on a new input shape; 0 once compiled, or when the graph came from the on-disk cache
   * apart from its session creation). Present when the model reports it.
   */
  readonly compileMs?: number;
  /** True when an anytime method was stopped by `maxEvaluations`. */
  readonly truncated: boolean;
  /** Completeness gap per row, Σ attribution − (F(x) − F(baseline)), when the method defines one. */
  readonly convergenceDelta?: Float32Array;
  /** Standard error of a sampled estimate, input's shape. Owned by the result. */
  readonly stderr?: tf.Tensor;
  /** The targets that were attributed, one per row, when they were indices. */
  readonly targets?: readonly number[];
}
