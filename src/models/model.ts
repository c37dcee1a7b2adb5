import * as tf from '@tensorflow/tfjs-core';
import { CapabilityError } from '../core/errors.js';
import type { EngineName, Objective } from '../core/types.js';

export interface ModelCapabilities {
  /** TF.js models; ONNX models once their backward graph is compiled. */
  readonly gradients: boolean;
  /** Named intermediate activations can be read or replaced. */
  readonly hooks: boolean;
  /** Gradients at several hook points from one backward pass (`HookGradientModel`, capabilities.ts). */
  readonly hookGradients?: boolean;
  /** Gradients with respect to the parameters, per example and batched (`ParameterGradientModel`). */
  readonly parameterGradients?: boolean;
}

/**
 * Per-call context of a model call made by a method: which input row of the `attribute` call each
 * batch row belongs to, and the model's other named inputs (one row per input row), held fixed.
 */
export interface CallContext {
  readonly rows: ArrayLike<number>;
  readonly inputs?: Readonly<Record<string, tf.Tensor>>;
}

/** What an input holds: float features, or integer token ids, masks and positions (no gradient). */
export type InputRole = 'features' | 'token-ids' | 'attention-mask' | 'token-type-ids' | 'position-ids';

/** One model input, as the adapter declares it. */
export interface InputSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly role: InputRole;
  /** Shape with `null` for dynamic dims (batch, sequence). */
  readonly shape: readonly (number | null)[];
  /** Which axis is the batch (0 for most models; 1 for time-major sequences). */
  readonly batchAxis: number;
  /** Token-id inputs: the vocabulary size (ids must be below it). */
  readonly vocabSize?: number;
}

/** A tensor as a host array and its shape. */
export interface HostTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export interface ModelAdapter {
  readonly name: string;
  /** Input shape with `null` for the batch (or any dynamic) dimension. */
  readonly inputShape: readonly (number | null)[];
  /** Output shape with `null` for dynamic dims, when known: index targets are checked against it before any work. */
  readonly outputShape?: readonly (number | null)[];
  readonly capabilities: ModelCapabilities;
  /** The runtime that runs the model ('tfjs' or 'onnx'); absent for black-box functions. Reported in `diagnostics.engine`. */
  readonly engine?: EngineName;
  /**
   * Milliseconds spent so far compiling backward graphs and creating their sessions (cumulative over
   * the adapter's life); a call's share is reported in `diagnostics.compileMs`.
   */
  readonly compileMs?: number;
  /** Names of all model inputs, the attributed one first (multi-input models). */
  readonly inputNames?: readonly string[];
  /** What each input is (dtype, role, batch axis), when the adapter declares it; see `inputSpecsOf`. */
  readonly inputSpecs?: readonly InputSpec[] | undefined;
  /**
   * Key/value metadata the model file carries, when the adapter read any: an ONNX file's
   * `metadata_props` (with `producer` and `description` from its header), a TF.js layers model's
   * `userDefinedMetadata` (values that are not strings as JSON). `modelMetadata` (io) reads class
   * labels and preprocessing from it.
   */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Why `capabilities.gradients` is false, when the adapter knows (e.g. its input is token ids). */
  readonly gradientsUnavailable?: string | undefined;
  /** Batched forward pass. The returned tensor is owned by the caller. */
  forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor>;
  /**
   * Optional forward pass on host arrays (row-major batch → row-major output), for engines that run
   * outside TF.js (ONNX Runtime, remote functions): perturbation methods build their batches on the
   * host and skip the TF.js round trip when it exists.
   */
  forwardHost?(data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<HostTensor>;
  dispose(): void;
}

export interface DifferentiableModel extends ModelAdapter {
  readonly capabilities: ModelCapabilities & { readonly gradients: true };
  /**
   * Gradient of `objective(f(x))` (one scalar per row) with respect to `x`, same shape as `x`.
   * The caller owns the returned tensor.
   */
  gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor>;
  /**
   * Optional `gradients` on host arrays (row-major batch in, row-major gradient of the same shape
   * out), for engines outside TF.js (ONNX Runtime): gradient methods that build their points on the
   * host skip the TF.js round trips (upload of the points, download of the gradients) when it exists.
   */
  gradientsHost?(data: Float32Array, shape: readonly number[], objective: Objective, ctx?: CallContext): Promise<HostTensor>;
}

export const isDifferentiable = (m: ModelAdapter): m is DifferentiableModel => m.capabilities.gradients;

/**
 * Reads or replaces one layer's output during one call: return a tensor to replace the activation,
 * nothing to leave it. Synchronous (it runs inside gradient tapes); the executor owns what it returns.
 */
export type HookFn = (activation: tf.Tensor, ctx: { readonly name: string }) => tf.Tensor | void;

/** An elementwise activation site (a fused `activation` or an Activation/ReLU layer). */
export interface ActivationSite {
  /** Hook name of the layer. */
  readonly name: string;
  /** The activation's name: 'relu', 'sigmoid', 'tanh', … */
  readonly activation: string;
  /** The activation itself. */
  readonly apply: (z: tf.Tensor) => tf.Tensor;
}

/**
 * Replaces every elementwise activation of a model (given its pre-activation `z`): how modified
 * back-propagation (guided backprop, deconvolution, DeepLIFT's rescale rule) is expressed, usually
 * with `tf.customGrad` keeping the forward value and changing the backward pass.
 */
export type ActivationRule = (z: tf.Tensor, site: ActivationSite) => tf.Tensor;

/** One layer call offered to a `LayerRule`: what the layer is, its inputs and parameters, and how it runs. */
export interface LayerCall {
  /** Hook name of the layer. */
  readonly name: string;
  /** Layer type, e.g. 'Dense', 'Conv2D', 'BatchNormalization'. */
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly inputs: readonly tf.Tensor[];
  /** Parameters by role (those the layer has): kernel, bias, gamma, beta, movingMean, movingVariance. */
  readonly params: Readonly<Record<string, tf.Tensor>>;
  /** Dense and Conv layers: their affine map with given parameters (no activation), and its transpose. */
  readonly affine?: AffineMap;
  /** The fused activation's name when it is not linear. */
  readonly activation?: string;
  /** Applies the fused activation (identity when there is none). */
  readonly activate: (z: tf.Tensor) => tf.Tensor;
  /** The layer as it normally runs on `inputs`. */
  run(): tf.Tensor | tf.Tensor[];
}

/** An affine layer map x ↦ x ⊛ kernel + bias, and the transposed linear part s ↦ Jᵀ s (for an input of shape `xShape`). */
export interface AffineMap {
  apply(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor;
  transpose(s: tf.Tensor, kernel: tf.Tensor, xShape: readonly number[]): tf.Tensor;
}

/**
 * Replaces whole layer calls (return the output to use, or nothing to run the layer normally): how
 * layer-wise relevance propagation gives every layer type its own backward rule.
 */
export type LayerRule = (call: LayerCall) => tf.Tensor | void;

/** Rules of a modified back-propagation: per activation, and per layer. */
export interface RuleSet {
  readonly activation?: ActivationRule;
  readonly layer?: LayerRule;
}

/** A layer of a hooked model, for methods that plan per layer (LRP). */
export interface LayerInfo {
  readonly name: string;
  readonly className: string;
  /** Hook names of the layers feeding this one (model inputs are not listed). */
  readonly inputs: readonly string[];
  /** Hook names of the layers reading this one's output. */
  readonly consumers: readonly string[];
  /** True when it reads a model input directly. */
  readonly readsInput: boolean;
  /** Its fused activation's name, 'linear' when none. */
  readonly activation: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** Its parameters by role (kernel, bias, gamma, beta, movingMean, movingVariance): the model's own tensors, not copies. */
  params(): Readonly<Record<string, tf.Tensor>>;
}

/** Options of one hooked run: hooks and patches live for this call only. */
export interface RunOptions {
  /** Functions on layer outputs, by hook name. */
  readonly hooks?: Readonly<Record<string, HookFn>>;
  /** Layer outputs replaced by these tensors (the layer does not run); batch must match `x`. */
  readonly patches?: Readonly<Record<string, tf.Tensor>>;
  /** The model's other named inputs for this call (multi-input models). */
  readonly ctx?: CallContext;
}

/** An activation cache: layer outputs by hook name, owned by the cache. */
export interface ActivationCacheLike extends Disposable {
  readonly names: readonly string[];
  get(name: string): tf.Tensor;
  has(name: string): boolean;
  dispose(): void;
}

/**
 * A model whose layer outputs are named hook points (`hookNames`) that one call can read (an
 * activation cache), replace (patching) or differentiate against (`atLayer`).
 */
export interface HookedModel extends ModelAdapter {
  readonly capabilities: ModelCapabilities & { readonly hooks: true };
  readonly hookNames: readonly string[];
  /** The Embedding layer that reads the model's token-id input, when it has one (declared by the adapter). */
  readonly embeddingOfInput?: string | undefined;
  /** Rows of that Embedding layer's table (token ids must be below it), when known. */
  readonly embeddingRows?: number | undefined;
  /** Output shape of a hook point, `null` for the batch. Throws `unknown_hook`. */
  hookShape(name: string): readonly (number | null)[];
  /** The kind of layer behind a hook point (e.g. 'Conv2D', 'Dense'). Throws `unknown_hook`. */
  hookClass(name: string): string;
  /** Forward pass with per-call hooks and patches. The caller owns the output. */
  run(x: tf.Tensor, opts?: RunOptions): Promise<tf.Tensor>;
  /** Forward pass keeping the outputs of `names` (default: every hook point) in a cache the caller disposes. */
  runWithCache(x: tf.Tensor, names?: readonly string[], ctx?: CallContext): Promise<{ readonly output: tf.Tensor; readonly cache: ActivationCacheLike }>;
  /** The layer outputs of `x` at `name`, in one tensor. The caller owns it. */
  activation(x: tf.Tensor, name: string, ctx?: CallContext): Promise<tf.Tensor>;
  /**
   * The model seen from a layer: its input is that layer's output, the rest of the network runs on
   * top. The original input, needed by branches that bypass the layer, is read per row from the call
   * context's inputs under the model's input name. With `rule`, activations after the layer use it.
   */
  atLayer(name: string, opts?: { readonly rule?: ActivationRule }): DifferentiableModel;
  /** The model cut at a layer: same input, output = that layer's output (for neuron methods). */
  upTo(name: string): DifferentiableModel;
  /** The same model under modified back-propagation rules (per activation and/or per layer). */
  withRules(rules: RuleSet): DifferentiableModel;
  /** The layers in execution order, with their connections. */
  describeLayers(): readonly LayerInfo[];
}

export const isHooked = (m: ModelAdapter): m is HookedModel => m.capabilities.hooks === true && typeof (m as Partial<HookedModel>).atLayer === 'function';

/** Runtime guard for methods that need layer access. */
export function requireHooks(model: ModelAdapter, method: string): asserts model is HookedModel {
  requireModel(model, method);
  if (!isHooked(model)) {
    throw new CapabilityError(
      `'${method}' needs a model whose layers can be hooked (a TF.js layers model via fromLayersModel, or a model.json in layers format); model '${model.name}' offers no layer access`,
      { method, model: model.name },
    );
  }
}

/** Runtime guard behind the compile-time one, for JavaScript callers. */
export function requireGradients(model: ModelAdapter, method: string): asserts model is DifferentiableModel {
  if (!model || typeof model.forward !== 'function') {
    throw new CapabilityError(`'${method}' needs a model adapter (fromLayersModel, fromGraphModel, fromFunction, fromOnnx…), got ${typeof model}`, {
      method,
    });
  }
  if (!isDifferentiable(model)) {
    const why = model.gradientsUnavailable;
    throw new CapabilityError(
      `'${method}' needs gradients, but model '${model.name}' is forward-only${why ? ` (${why})` : ''}; use a perturbation method (occlusion, feature-ablation, kernel-shap, lime)`,
      { method, model: model.name, ...(why ? { reason: why } : {}) },
    );
  }
}

export function requireModel(model: ModelAdapter, method: string): void {
  if (!model || typeof model.forward !== 'function') {
    throw new CapabilityError(`'${method}' needs a model adapter (fromLayersModel, fromGraphModel, fromFunction, fromOnnx…), got ${typeof model}`, {
      method,
    });
  }
}

/**
 * Rows `rows` of each fixed input, for one model call (host-side gather: device gathers are slow on
 * wasm). The caller owns the returned tensors.
 */
export async function gatherInputs(ctx: CallContext | undefined, names: readonly string[], model: string): Promise<Record<string, tf.Tensor>> {
  const out: Record<string, tf.Tensor> = {};
  for (const name of names) {
    const t = ctx?.inputs?.[name];
    if (!t) {
      throw new CapabilityError(`Model '${model}' also needs input '${name}': pass it as inputs: { ${name}: tensor } (CLI: --inputs ${name}=FILE), one row per input row`, { model, input: name });
    }
    const data = await t.data();
    const per = t.size / t.shape[0]!;
    const rows = ctx!.rows;
    const buf = t.dtype === 'int32' ? new Int32Array(rows.length * per) : new Float32Array(rows.length * per);
    for (let i = 0; i < rows.length; i++) buf.set(data.subarray(rows[i]! * per, (rows[i]! + 1) * per) as never, i * per);
    out[name] = tf.tensor(buf, [rows.length, ...t.shape.slice(1)], t.dtype);
  }
  return out;
}
