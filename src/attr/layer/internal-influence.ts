import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../../core/baseline.js';
import { pathSchedule } from '../../core/quadrature.js';
import { LayerAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import type { FixedPathOptions } from '../gradient/integrated-gradients.js';
import { prepare } from '../internal/prepare.js';
import { LayerMethod, layerPath, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel, pathOptions } from '../internal/options.js';
import { layerFor } from './layer-of.js';

/**
 * InternalInfluence (Captum `InternalInfluence`): the layer gradient integrated along the straight
 * path in *input* space, Σ_k w_k ∂F_t/∂A (b + α_k(x − b)); layer-shaped, not multiplied by anything.
 *
 * Cost: `2 × batch × steps` rows.
 * @see Leino et al. (2018), https://arxiv.org/abs/1802.03788
 */
export class InternalInfluence extends LayerMethod implements Attributor<FixedPathOptions> {
  readonly id = 'internal-influence' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'InternalInfluence');
  }

  cost(shape: readonly number[], opts: Partial<FixedPathOptions> = {}): number {
    return 2 * (shape[0] ?? 1) * (opts.steps ?? internalInfluence.defaults.steps);
  }

  async attribute(x: tf.Tensor, opts: FixedPathOptions): Promise<LayerAttribution> {
    const fn = 'InternalInfluence.attribute';
    const { steps, nodes, weights } = pathSchedule(opts, internalInfluence.defaults, fn);
    const { run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { steps }), exact: true });
    const shape = this.model.hookShape(this.layer).slice(1) as number[];
    const e = shape.reduce((a, b) => a * b, 1);
    const acc = new Float32Array(n * e);
    const base = resolveBaseline(opts.baselines, x, fn);
    try {
      await layerPath(this.model, this.layer, x, base, nodes, { target, run, batchSize, inputs: opts.inputs, fn }, ({ rowOf, stepOf, grads }) => {
        for (let j = 0; j < rowOf.length; j++) {
          const w = weights[stepOf[j]!]!;
          const o = rowOf[j]! * e;
          for (let q = 0; q < e; q++) acc[o + q]! += w * grads[j * e + q]!;
        }
      });
    } finally {
      base.dispose();
    }
    return new LayerAttribution(this.id, this.layer, tf.tensor(acc, [n, ...shape]), withTargets(run.finish(), targetList(target)));
  }
}

/** Internal Influence's one declaration: catalogue entry, CLI flags and defaults. */
export const internalInfluence = defineMethod({
  id: 'internal-influence',
  title: 'Internal Influence',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch × 2 × steps',
  reference: 'Leino et al. 2018, arXiv:1802.03788',
  stochastic: false,
  output: 'layer',
  options: { ...pathOptions },
  create: (m: ModelAdapter, st) => new InternalInfluence(hookedModel(m, 'InternalInfluence'), { layer: layerFor(m, st, 'internal-influence') }),
});
