import type * as tf from '@tensorflow/tfjs-core';
import type { LayerAttribution } from '../../core/result.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { InputXGradient } from '../gradient/input-x-gradient.js';
import { asLayerResult, layerActivations, LayerMethod, onLayer, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor } from './layer-of.js';

/**
 * LayerGradientXActivation: A ⊙ ∂F_t/∂A for the layer's output A (Captum `LayerGradientXActivation`
 * with `multiply_by_inputs=True`): Input × Gradient with the layer's output as the input.
 *
 * Cost: `2 × batch` rows (activations, then forward+backward from the layer).
 * @see Shrikumar et al. 2016, https://arxiv.org/abs/1605.01713
 * @throws {UnknownHookError} `unknown_hook` when the layer is not a hook point of the model.
 */
export class LayerGradientXActivation extends LayerMethod implements Attributor<AttributeOptions> {
  readonly id = 'layer-gradient-x-activation' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerGradientXActivation');
  }

  cost(shape: readonly number[]): number {
    return 2 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<LayerAttribution> {
    const fn = 'LayerGradientXActivation.attribute';
    const extraRows = x?.shape?.[0] ?? 0;
    const on = onLayer(this.model, this.layer, x, opts, { fn, cost: this.cost(x.shape), extraRows });
    const { acts } = await layerActivations(this.model, this.layer, x, opts, null, fn);
    try {
      return asLayerResult(this.id, this.layer, await new InputXGradient(on.view).attribute(acts, on.inner), extraRows);
    } finally {
      acts.dispose();
    }
  }
}

/** Layer Gradient × Activation's one declaration: catalogue entry, CLI flags and defaults. */
export const layerGradientXActivation = defineMethod({
  id: 'layer-gradient-x-activation',
  title: 'Layer Gradient × Activation',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch × 2',
  reference: 'Shrikumar et al. 2016, arXiv:1605.01713; Captum LayerGradientXActivation',
  stochastic: false,
  output: 'layer',
  options: {},
  create: (m: ModelAdapter, st) => new LayerGradientXActivation(hookedModel(m, 'LayerGradientXActivation'), { layer: layerFor(m, st, 'layer-gradient-x-activation') }),
});
