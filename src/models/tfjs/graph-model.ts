import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { BackendError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import type { DifferentiableModel } from '../model.js';
import { gradientOf } from './gradients.js';

export interface GraphModelOptions {
  readonly name?: string;
  /** Output node to attribute, for graphs with several outputs. Default: the first output. */
  readonly outputName?: string;
}

/**
 * A differentiable adapter for a TF.js graph model (`execute`, synchronous ops only). Gradients come
 * from TF.js autodiff through the graph's ops; graphs with control flow need `executeAsync` and
 * cannot be differentiated: use a perturbation method for those.
 * Note: max-pool gradients inside a graph model use the backend's own kernel (wrong on ties on `wasm`).
 */
export function fromGraphModel(model: GraphModel, opts: GraphModelOptions = {}): DifferentiableModel {
  const outputName = opts.outputName;
  const run = (x: tf.Tensor): tf.Tensor => {
    try {
      const out = outputName ? model.execute(x, outputName) : model.execute(x);
      return Array.isArray(out) ? out[0]! : (out as tf.Tensor);
    } catch (e) {
      throw new BackendError(`Graph model execution failed: ${(e as Error).message}`, {}, e);
    }
  };
  const shape = model.inputs[0]?.shape;
  const outShape = (outputName ? model.outputs.find((o) => o.name === outputName) : model.outputs[0])?.shape;
  return {
    name: opts.name ?? 'graph-model',
    inputShape: shape ? shape.map((d) => (d === -1 ? null : d)) : [null],
    ...(outShape ? { outputShape: outShape.map((d) => (d === -1 ? null : d)) } : {}),
    capabilities: { gradients: true, hooks: false },
    forward: async (x: tf.Tensor) => tf.tidy(() => run(x)),
    gradients: async (x: tf.Tensor, objective: Objective) => gradientOf(run, x, objective),
    dispose: () => model.dispose(),
  };
}
