// Model capabilities the component, data and context methods need, declared by the adapter in
// `capabilities` (never inferred from which functions an object happens to have).
import type * as tf from '@tensorflow/tfjs-core';
import { CapabilityError, ShapeMismatchError } from '../core/errors.js';
import type { Objective } from '../core/types.js';
import type { CallContext, HookedModel, InputSpec, ModelAdapter, ModelCapabilities } from './model.js';

/** Activations and gradients at hook points from one forward and one backward pass; owns its tensors. */
export interface HookGradients extends Disposable {
  /** The model output [batch, ...]. */
  readonly output: tf.Tensor;
  /** Each requested hook point's activation, its own shape `[batch, ...]`. */
  readonly activations: Readonly<Record<string, tf.Tensor>>;
  /** ∂objective/∂activation at each requested hook point, the activation's shape. */
  readonly gradients: Readonly<Record<string, tf.Tensor>>;
  dispose(): void;
}

/** A hooked model that differentiates at several hook points in one backward pass (attribution patching, AtP). */
export interface HookGradientModel extends HookedModel {
  readonly capabilities: ModelCapabilities & { readonly hooks: true; readonly hookGradients: true };
  /** One forward and one backward pass of `objective(f(x))`; the caller disposes the result. Throws `unknown_hook`. */
  gradientsAtHooks(x: tf.Tensor, names: readonly string[], objective: Objective, ctx?: CallContext): Promise<HookGradients>;
}

/** How parameter gradients come back: one per example (`[batch, ...paramShape]`) or summed over the batch. */
export type ParameterReduction = 'per-example' | 'sum';

/** A model that differentiates with respect to its parameters (TRAK, TracIn, influence functions). */
export interface ParameterGradientModel extends ModelAdapter {
  readonly capabilities: ModelCapabilities & { readonly parameterGradients: true };
  /** Names of the trainable parameters, in a stable order. */
  readonly parameterNames: readonly string[];
  /** Shape of a parameter. Throws `invalid_argument` for an unknown name. */
  parameterShape(name: string): readonly number[];
  /**
   * ∂objective/∂θ for the parameters `names` (default: all), batched: one backward pass per chunk of
   * rows. `per-example` gives `[batch, ...paramShape]` per parameter, `sum` gives `[...paramShape]`.
   * The caller owns the returned tensors.
   */
  parameterGradients(
    x: tf.Tensor,
    objective: Objective,
    opts: { readonly reduction: ParameterReduction; readonly names?: readonly string[]; readonly ctx?: CallContext },
  ): Promise<Readonly<Record<string, tf.Tensor>>>;
}

/** Capabilities beyond forward passes, by name. */
export type Capability = 'gradients' | 'hooks' | 'hookGradients' | 'parameterGradients';

/** Declared: gradients at several hook points from one backward pass. */
export const hasHookGradients = (m: ModelAdapter): m is HookGradientModel => m.capabilities.hooks === true && m.capabilities.hookGradients === true;

/** Declared: gradients with respect to parameters. */
export const hasParameterGradients = (m: ModelAdapter): m is ParameterGradientModel => m.capabilities.parameterGradients === true;

/** Runtime guard behind the compile-time one: `capability_missing` naming the method, the model and what it lacks. */
export function requireCapability(model: ModelAdapter, capability: Capability, method: string): void {
  if (model?.capabilities?.[capability] === true) return;
  throw new CapabilityError(`'${method}' needs a model with ${DESCRIBE[capability]}; model '${model?.name}' does not declare it (capabilities.${capability})`, {
    method,
    model: model?.name,
    capability,
  });
}

const DESCRIBE: Readonly<Record<Capability, string>> = {
  gradients: 'gradients with respect to its input',
  hooks: 'named hook points (layer access)',
  hookGradients: 'gradients at several hook points from one backward pass',
  parameterGradients: 'gradients with respect to its parameters',
};

/**
 * The model's inputs as declared, else one float `features` input of `inputShape` with the batch
 * first (what every adapter without `inputSpecs` takes).
 */
export function inputSpecsOf(model: ModelAdapter): readonly InputSpec[] {
  if (model.inputSpecs && model.inputSpecs.length > 0) return model.inputSpecs;
  return [{ name: model.inputNames?.[0] ?? 'input', dtype: 'float32', role: 'features', shape: model.inputShape, batchAxis: 0 }];
}

/**
 * The batch size of a set of named inputs, each read on its own declared batch axis; `shape_mismatch`
 * when they disagree or an input is missing.
 */
export function batchOf(inputs: Readonly<Record<string, tf.Tensor>>, specs: readonly InputSpec[], fn: string): number {
  let batch: number | undefined;
  for (const spec of specs) {
    const t = inputs[spec.name];
    if (!t) throw new ShapeMismatchError(`Input '${spec.name}' passed to '${fn}' is missing`, { arg: 'inputs', fn, input: spec.name });
    const n = t.shape[spec.batchAxis];
    if (n === undefined || (batch !== undefined && n !== batch)) {
      throw new ShapeMismatchError(`Input '${spec.name}' passed to '${fn}' must have ${batch ?? 'a'} batch rows on axis ${spec.batchAxis}, got shape [${t.shape.join(', ')}]`, {
        arg: 'inputs',
        fn,
        input: spec.name,
        expected: batch,
        actual: t.shape,
      });
    }
    batch = n;
  }
  return batch ?? 0;
}
