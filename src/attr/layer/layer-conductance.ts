import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../../core/baseline.js';
import { pathSchedule, QUADRATURE_RULES } from '../../core/quadrature.js';
import { LayerAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import type { FixedPathOptions } from '../gradient/integrated-gradients.js';
import { completenessGap, evaluateObjective } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { LayerMethod, layerPath, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor } from './layer-of.js';

/**
 * LayerConductance (Captum `LayerConductance`): the flow of Integrated Gradients through each unit
 * of a layer, Σ_{k<steps} ∂F_t/∂A(x_k) ⊙ (A(x_{k+1}) − A(x_k)) over steps + 1 path points
 * x_k = b + α_k(x − b) with α from `rule` (Captum evaluates its rule at n_steps + 1 points).
 * Summed over the layer's units it approximates F(x) − F(b) (IG's total) when every path from the
 * input to the output crosses the layer (a branch that bypasses it carries the rest);
 * `convergenceDelta` is that gap per row. With 'trapezoid' the points run from exactly b to x.
 *
 * Cost: `2 × batch × (steps + 1)` rows plus `2 × batch` for the gap.
 * @see Dhamdhere, Sundararajan, Yan (2018), https://arxiv.org/abs/1805.12233
 */
export class LayerConductance extends LayerMethod implements Attributor<FixedPathOptions> {
  readonly id = 'layer-conductance' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerConductance');
  }

  cost(shape: readonly number[], opts: Partial<FixedPathOptions> = {}): number {
    const n = shape[0] ?? 1;
    return 2 * n * ((opts.steps ?? layerConductance.defaults.steps) + 1) + 2 * n;
  }

  async attribute(x: tf.Tensor, opts: FixedPathOptions): Promise<LayerAttribution> {
    const fn = 'LayerConductance.attribute';
    const { steps, nodes } = pathSchedule(opts, layerConductance.defaults, fn, 1);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { steps }), exact: true });
    const shape = this.model.hookShape(this.layer).slice(1) as number[];
    const e = shape.reduce((a, b) => a * b, 1);
    const acc = new Float32Array(n * e);
    const prevA = new Float32Array(n * e);
    const prevG = new Float32Array(n * e);
    const base = resolveBaseline(opts.baselines, x, fn);
    try {
      // points arrive in row-major order, so step k − 1 of a row is always seen before step k
      await layerPath(this.model, this.layer, x, base, nodes, { target, run, batchSize, inputs: opts.inputs, fn }, ({ rowOf, stepOf, acts, grads }) => {
        for (let j = 0; j < rowOf.length; j++) {
          const o = rowOf[j]! * e;
          const p = j * e;
          if (stepOf[j]! > 0) for (let q = 0; q < e; q++) acc[o + q]! += prevG[o + q]! * (acts[p + q]! - prevA[o + q]!);
          prevA.set(acts.subarray(p, p + e), o);
          prevG.set(grads.subarray(p, p + e), o);
        }
      });
      const [fx, fb] = [await evaluateObjective(model, x, target, run, batchSize, fn), await evaluateObjective(model, base, target, run, batchSize, fn)];
      const sums = new Float32Array(n);
      for (let i = 0; i < n; i++) for (let q = 0; q < e; q++) sums[i]! += acc[i * e + q]!;
      const convergenceDelta = completenessGap(sums, fx, fb);
      return new LayerAttribution(this.id, this.layer, tf.tensor(acc, [n, ...shape]), withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
    } finally {
      base.dispose();
    }
  }
}

/** Layer Conductance's one declaration: catalogue entry, CLI flags and defaults. */
export const layerConductance = defineMethod({
  id: 'layer-conductance',
  title: 'Layer Conductance',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch × (2 × steps + 4)',
  reference: 'Dhamdhere et al. 2018, arXiv:1805.12233',
  stochastic: false,
  output: 'layer',
  options: {
    steps: { type: 'int', help: 'path steps (evaluated at steps + 1 points)', default: 50 },
    rule: { type: 'enum', values: QUADRATURE_RULES, help: 'where the path points lie', default: 'gauss-legendre' },
  },
  create: (m: ModelAdapter, st) => new LayerConductance(hookedModel(m, 'LayerConductance'), { layer: layerFor(m, st, 'layer-conductance') }),
});
