import * as tf from '@tensorflow/tfjs-core';
import type { Objective } from '../../core/types.js';
import type { DifferentiableModel } from '../model.js';
import { gradientOf } from './gradients.js';

export interface FunctionModelOptions {
  readonly name?: string;
  readonly inputShape?: readonly (number | null)[];
  /** Output shape, when known (lets bad targets be rejected before any work). */
  readonly outputShape?: readonly (number | null)[];
}

/** A differentiable model from a synchronous TF.js function of the batch, e.g. `(x) => tf.matMul(x, w)`. */
export function fromFunction(f: (x: tf.Tensor) => tf.Tensor, opts: FunctionModelOptions = {}): DifferentiableModel {
  return {
    name: opts.name ?? 'function',
    inputShape: opts.inputShape ?? [null],
    ...(opts.outputShape ? { outputShape: opts.outputShape } : {}),
    capabilities: { gradients: true, hooks: false },
    engine: 'tfjs',
    forward: async (x: tf.Tensor) => tf.tidy(() => f(x)),
    gradients: async (x: tf.Tensor, objective: Objective) => gradientOf(f, x, objective),
    dispose: () => undefined,
  };
}
