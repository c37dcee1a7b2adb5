import type * as tf from '@tensorflow/tfjs-core';
import type { LayerAttribution } from '../../core/result.js';
import type { Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { IntegratedGradients, INTEGRATED_GRADIENTS_RULES, pathCost, type IntegratedGradientsOptions } from '../gradient/integrated-gradients.js';
import { asLayerResult, layerActivations, LayerMethod, onLayer, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel, pathOptions } from '../internal/options.js';
import { layerFor, embeddingLayer } from './layer-of.js';

/**
 * LayerIntegratedGradients: Integrated Gradients in the space of one layer's output (Captum
 * `LayerIntegratedGradients`): with A = the layer's output for x and A₀ for the baseline (the
 * baseline is given in input space, e.g. all-PAD token ids), (A − A₀) ⊙ Σ_k w_k ∂F_t/∂A(A₀ + α_k(A − A₀)).
 * The standard way to explain text models: attribute on the embedding layer, then sum over the
 * embedding dimension for one score per token. Values have the layer's shape.
 *
 * Cost: `batch × steps` forward+backward rows from the layer on, plus `2 × batch` for the
 * completeness gap and `2 × batch` activation rows.
 * Axiom: completeness in the layer's space; `convergenceDelta` = Σ attr − (F(A) − F(A₀)), which is
 * F(x) − F(baseline) unless a branch bypasses the layer (the bypass keeps reading x, as in Captum).
 * @see Sundararajan, Taly, Yan (2017), https://arxiv.org/abs/1703.01365
 * @throws {UnknownHookError} `unknown_hook` when the layer is not a hook point of the model.
 * @example
 * ```ts
 * const lig = new LayerIntegratedGradients(model, { layer: 'embedding' });
 * using attr = await lig.attribute(tokenIds, { target: 1, steps: 50 });   // [batch, tokens, dim]
 * ```
 */
export class LayerIntegratedGradients extends LayerMethod implements Attributor<IntegratedGradientsOptions> {
  readonly id = 'layer-integrated-gradients' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerIntegratedGradients');
  }

  cost(shape: readonly number[], opts: Partial<IntegratedGradientsOptions> = {}): number {
    // IG's own rows on the layer's activations, and the forward rows that make them
    return pathCost(shape[0] ?? 1, opts.steps ?? layerIntegratedGradients.defaults.steps, opts.rule) + 2 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: IntegratedGradientsOptions): Promise<LayerAttribution> {
    const fn = 'LayerIntegratedGradients.attribute';
    const extraRows = 2 * (x?.shape?.[0] ?? 0);
    const on = onLayer(this.model, this.layer, x, opts, { fn, cost: this.cost(x.shape, opts ?? {}), extraRows });
    const { acts, base } = await layerActivations(this.model, this.layer, x, opts, opts.baselines, fn);
    try {
      const r = await new IntegratedGradients(on.view).attribute(acts, { ...on.inner, baselines: base! });
      return asLayerResult(this.id, this.layer, r, extraRows);
    } finally {
      acts.dispose();
      base?.dispose();
    }
  }
}

/** Layer Integrated Gradients's one declaration: catalogue entry, CLI flags and defaults. */
export const layerIntegratedGradients = defineMethod({
  id: 'layer-integrated-gradients',
  title: 'Layer Integrated Gradients',
  family: 'layer',
  requires: 'hooks',
  layer: 'default',
  cost: 'batch × (steps + 4)',
  reference: 'Sundararajan et al. 2017, arXiv:1703.01365; Captum LayerIntegratedGradients',
  stochastic: false,
  output: 'layer',
  options: { ...pathOptions, rule: { ...pathOptions.rule, values: INTEGRATED_GRADIENTS_RULES } },
  defaultLayer: embeddingLayer,
  create: (m: ModelAdapter, st) => new LayerIntegratedGradients(hookedModel(m, 'LayerIntegratedGradients'), { layer: layerFor(m, st, 'layer-integrated-gradients', embeddingLayer) }),
});
