import type * as tf from '@tensorflow/tfjs-core';
import { CapabilityError } from '../core/errors.js';
import type { Objective } from '../core/types.js';

export interface ModelCapabilities {
  /** TF.js models; ONNX models once their backward graph is compiled. */
  readonly gradients: boolean;
  /** Named intermediate activations can be read or replaced. */
  readonly hooks: boolean;
}

export interface ModelAdapter {
  readonly name: string;
  /** Input shape with `null` for the batch (or any dynamic) dimension. */
  readonly inputShape: readonly (number | null)[];
  /** Output shape with `null` for dynamic dims, when known: index targets are checked against it before any work. */
  readonly outputShape?: readonly (number | null)[];
  readonly capabilities: ModelCapabilities;
  /** Batched forward pass. The returned tensor is owned by the caller. */
  forward(x: tf.Tensor): Promise<tf.Tensor>;
  dispose(): void;
}

export interface DifferentiableModel extends ModelAdapter {
  readonly capabilities: ModelCapabilities & { readonly gradients: true };
  /**
   * Gradient of `objective(f(x))` (one scalar per row) with respect to `x`, same shape as `x`.
   * The caller owns the returned tensor.
   */
  gradients(x: tf.Tensor, objective: Objective): Promise<tf.Tensor>;
}

export const isDifferentiable = (m: ModelAdapter): m is DifferentiableModel => m.capabilities.gradients;

/** Runtime guard behind the compile-time one, for JavaScript callers. */
export function requireGradients(model: ModelAdapter, method: string): asserts model is DifferentiableModel {
  if (!model || typeof model.forward !== 'function') {
    throw new CapabilityError(`'${method}' needs a model adapter (fromLayersModel, fromGraphModel, fromFunction, fromOnnx…), got ${typeof model}`, {
      method,
    });
  }
  if (!isDifferentiable(model)) {
    throw new CapabilityError(
      `'${method}' needs gradients, but model '${model.name}' is forward-only; use a perturbation method (occlusion, feature-ablation, kernel-shap, lime) or a TF.js model`,
      { method, model: model.name },
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
