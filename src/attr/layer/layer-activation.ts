import type * as tf from '@tensorflow/tfjs-core';
import { assertBatch } from '../../core/assert.js';
import { resolveBatchSize } from '../../core/batching.js';
import { Budget } from '../../core/budget.js';
import { LayerAttribution } from '../../core/result.js';
import type { Attributor, RunControl } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { activationsOf, LayerMethod, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor } from './layer-of.js';

export interface LayerActivationOptions extends RunControl {
  /** The model's other named inputs, one row per input row. */
  readonly inputs?: Readonly<Record<string, tf.Tensor>>;
}

/**
 * LayerActivation: the layer's output for each input (Captum `LayerActivation`); it takes no target.
 *
 * Cost: `batch` forward rows (up to the layer only).
 * @throws {UnknownHookError} `unknown_hook` when the layer is not a hook point of the model.
 * @example
 * ```ts
 * using acts = await new LayerActivation(model, { layer: 'conv2' }).attribute(images);
 * ```
 */
export class LayerActivation extends LayerMethod implements Attributor<LayerActivationOptions> {
  readonly id = 'layer-activation' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerActivation');
  }

  cost(shape: readonly number[]): number {
    return shape[0] ?? 1;
  }

  async attribute(x: tf.Tensor, opts: LayerActivationOptions = {}): Promise<LayerAttribution> {
    const fn = 'LayerActivation.attribute';
    assertBatch(x, 'x', fn);
    const run = Budget.start(opts, { total: x.shape[0]!, fn, exact: true, model: this.model });
    const values = await activationsOf(this.model, this.layer, x, opts.inputs, resolveBatchSize(opts.batchSize, fn), run);
    return new LayerAttribution(this.id, this.layer, values, run.finish());
  }
}

/** Layer Activation's one declaration: catalogue entry, CLI flags and defaults. */
export const layerActivation = defineMethod({
  id: 'layer-activation',
  title: 'Layer Activation',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch',
  reference: 'Captum LayerActivation',
  stochastic: false,
  output: 'layer',
  options: {},
  create: (m: ModelAdapter, st) => new LayerActivation(hookedModel(m, 'LayerActivation'), { layer: layerFor(m, st, 'layer-activation') }),
});
