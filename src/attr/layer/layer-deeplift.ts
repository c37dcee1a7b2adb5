import type * as tf from '@tensorflow/tfjs-core';
import { LayerAttribution, withTargets } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { rangeIds, targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { RESCALE, rescaleAttributions } from '../backprop/deeplift.js';
import { completenessGap, evaluateObjective, rowSums } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { layerActivations, LayerMethod, onLayer, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor } from './layer-of.js';

/**
 * LayerDeepLift (Captum `LayerDeepLift`, `multiply_by_inputs=True`): DeepLIFT's Rescale multipliers
 * of the layer's output, times A(x) − A(b), with the baseline given in input space. Layer-shaped.
 * `convergenceDelta` = Σ attr − (F(A(x)) − F(A(b))) from the layer on (a branch bypassing the layer
 * reads x for both, where Captum runs the baseline through it).
 *
 * Cost: `4 × batch` rows from the layer on, plus `2 × batch` activation rows.
 * @see Shrikumar, Greenside, Kundaje (2017), https://arxiv.org/abs/1704.02685
 */
export class LayerDeepLift extends LayerMethod implements Attributor<AttributeOptions> {
  readonly id = 'layer-deeplift' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerDeepLift');
  }

  cost(shape: readonly number[]): number {
    return 6 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<LayerAttribution> {
    const fn = 'LayerDeepLift.attribute';
    const extraRows = 2 * (x?.shape?.[0] ?? 0);
    const on = onLayer(this.model, this.layer, x, opts, { fn, cost: this.cost(x?.shape ?? []), extraRows });
    const { acts, base } = await layerActivations(this.model, this.layer, x, opts, opts.baselines, fn);
    return withScope(async (keep) => {
      keep(acts);
      keep(base!);
      const view = this.model.atLayer(this.layer, { rule: RESCALE });
      const { model, run, target, batchSize, n } = await prepare(view, acts, on.inner, { fn, cost: 4 * x.shape[0]!, exact: true });
      const values = keep(await rescaleAttributions(model, acts, base!, rangeIds(0, n), target, run, batchSize, fn));
      const [fx, fb] = [await evaluateObjective(model, acts, target, run, batchSize, fn), await evaluateObjective(model, base!, target, run, batchSize, fn)];
      const convergenceDelta = completenessGap(await rowSums(values), fx, fb);
      const d = run.finish();
      return new LayerAttribution(this.id, this.layer, values.clone(), withTargets({ ...d, evaluations: d.evaluations + extraRows, convergenceDelta }, targetList(target)));
    });
  }
}

/** Layer DeepLIFT's one declaration: catalogue entry, CLI flags and defaults. */
export const layerDeepLift = defineMethod({
  id: 'layer-deeplift',
  rules: true,
  title: 'Layer DeepLIFT',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch × 6',
  reference: 'Shrikumar et al. 2017, arXiv:1704.02685; Captum LayerDeepLift',
  stochastic: false,
  output: 'layer',
  options: {},
  create: (m: ModelAdapter, st) => new LayerDeepLift(hookedModel(m, 'LayerDeepLift'), { layer: layerFor(m, st, 'layer-deeplift') }),
});
