import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import * as tf from '@tensorflow/tfjs-core';
import { rowSize } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { pathSchedule, type QuadratureRule } from '../../core/quadrature.js';
import { targetList, type ResolvedTarget } from '../../core/target.js';
import { requireGradients, type HookedModel, type ModelAdapter } from '../../models/model.js';
import { weightedGradientSum } from '../internal/evaluate.js';
import { bindInputs, prepare } from '../internal/prepare.js';
import type { AttributeOptions, Attributor, Baseline, RunControl, Target } from '../../core/types.js';
import { IntegratedGradients } from '../gradient/integrated-gradients.js';
import { Saliency } from '../gradient/saliency.js';
import { layerPath, LayerMethod, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel, neuronOption, pathOptions } from '../internal/options.js';
import { layerFor } from './layer-of.js';

/** A neuron of a layer: its index in the layer's output without the batch dim (e.g. [h, w, c]), or a flat index. */
export type NeuronIndex = number | readonly number[];

/** Options of the neuron methods: `neuron` replaces `target` (the attributed quantity is that unit's activation). */
export interface NeuronOptions extends RunControl {
  readonly neuron: NeuronIndex;
  /** Ignored: the neuron is the target. */
  readonly target?: Target;
  readonly baselines?: Baseline;
  readonly inputs?: NonNullable<AttributeOptions['inputs']>;
}

export interface NeuronIntegratedGradientsOptions extends NeuronOptions {
  readonly steps?: number;
  readonly rule?: QuadratureRule;
}

/** The flat index of `neuron` in a layer of shape [batch, ...dims]; throws a typed error when out of range. */
export function neuronIndex(neuron: NeuronIndex | undefined, layerShape: readonly (number | null)[], layer: string, fn: string): number {
  const dims = layerShape.slice(1).map((d) => d ?? 0);
  const total = dims.reduce((a, b) => a * b, 1);
  const show = `[${dims.join(', ')}]`;
  if (typeof neuron === 'number') {
    if (Number.isInteger(neuron) && neuron >= 0 && neuron < total) return neuron;
  } else if (Array.isArray(neuron) && neuron.length === dims.length && neuron.every((v, i) => Number.isInteger(v) && v >= 0 && v < dims[i]!)) {
    return neuron.reduce((flat, v, i) => flat * dims[i]! + v, 0);
  }
  throw new InvalidArgumentError(
    `Argument 'neuron' passed to '${fn}' must index layer '${layer}' of shape ${show}: ${dims.length} integers within it, or a flat index in [0, ${total}); got ${JSON.stringify(neuron)}`,
    { arg: 'neuron', fn, layer, shape: dims, neuron },
  );
}

/** Runs a feature method on the model cut at the layer, with the neuron as its target; relabels the result. */
async function onNeuron<O extends AttributeOptions>(
  id: 'neuron-gradient' | 'neuron-integrated-gradients',
  model: HookedModel,
  layer: string,
  inner: Attributor<O>,
  x: tf.Tensor,
  opts: NeuronOptions,
  extra: Partial<O>,
  fn: string,
): Promise<FeatureAttribution> {
  const flat = neuronIndex(opts?.neuron, model.hookShape(layer), layer, fn);
  const r = await inner.attribute(x, { ...opts, ...extra, target: flat } as unknown as O);
  const { targets: _t, ...diagnostics } = r.diagnostics;
  return new FeatureAttribution(id, r.values, diagnostics);
}

/**
 * NeuronGradient (Captum `NeuronGradient`): the gradient of one unit of a layer with respect to the
 * input (signed). Cost: `batch` forward+backward rows up to the layer.
 */
export class NeuronGradient extends LayerMethod implements Attributor<NeuronOptions> {
  readonly id = 'neuron-gradient' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'NeuronGradient');
  }
  cost(shape: readonly number[]): number {
    return shape[0] ?? 1;
  }
  attribute(x: tf.Tensor, opts: NeuronOptions): Promise<FeatureAttribution> {
    return onNeuron(this.id, this.model, this.layer, new Saliency(this.model.upTo(this.layer)), x, opts, { abs: false }, 'NeuronGradient.attribute');
  }
}

/**
 * NeuronIntegratedGradients (Captum `NeuronIntegratedGradients`): Integrated Gradients of one unit
 * of a layer with respect to the input; complete for that unit's activation.
 * Cost: `batch × (steps + 2)` rows up to the layer.
 */
export class NeuronIntegratedGradients extends LayerMethod implements Attributor<NeuronIntegratedGradientsOptions> {
  readonly id = 'neuron-integrated-gradients' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'NeuronIntegratedGradients');
  }
  cost(shape: readonly number[], opts: Partial<NeuronIntegratedGradientsOptions> = {}): number {
    const n = shape[0] ?? 1;
    return n * (opts.steps ?? neuronIntegratedGradients.defaults.steps) + 2 * n;
  }
  attribute(x: tf.Tensor, opts: NeuronIntegratedGradientsOptions): Promise<FeatureAttribution> {
    return onNeuron(this.id, this.model, this.layer, new IntegratedGradients(this.model.upTo(this.layer)), x, opts, {}, 'NeuronIntegratedGradients.attribute');
  }
}

/**
 * NeuronConductance (Captum `NeuronConductance`): how much each input feature's Integrated Gradients
 * flow passes through one neuron, (x − b) ⊙ Σ_k w_k (∂F_t/∂y)(x_k) · ∂y/∂x (x_k) for the neuron's
 * activation y on the path x_k = b + α_k(x − b). Input-shaped. Takes `target` (the output explained)
 * and `neuron` (the unit it flows through).
 *
 * Cost: `3 × batch × steps` rows (layer activations and gradients, then the neuron's input gradients).
 * @see Dhamdhere, Sundararajan, Yan (2018), https://arxiv.org/abs/1805.12233
 */
export class NeuronConductance extends LayerMethod implements Attributor<NeuronConductanceOptions> {
  readonly id = 'neuron-conductance' as const;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'NeuronConductance');
    requireGradients(model, 'NeuronConductance');
  }

  cost(shape: readonly number[], opts: Partial<NeuronConductanceOptions> = {}): number {
    return 3 * (shape[0] ?? 1) * (opts.steps ?? neuronConductance.defaults.steps);
  }

  async attribute(x: tf.Tensor, opts: NeuronConductanceOptions): Promise<FeatureAttribution> {
    const fn = 'NeuronConductance.attribute';
    const flat = neuronIndex(opts?.neuron, this.model.hookShape(this.layer), this.layer, fn);
    const { steps, nodes, weights } = pathSchedule(opts, neuronConductance.defaults, fn);
    const { run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, { steps }), exact: true });
    const e = rowSize(this.model.hookShape(this.layer) as number[]);
    const base = resolveBaseline(opts.baselines, x, fn);
    try {
      // pass 1: ∂F_t/∂y at every path point (the neuron's entry of the layer gradient)
      const count = n * steps;
      const weight = new Float32Array(count);
      await layerPath(this.model, this.layer, x, base, nodes, { target, run, batchSize, inputs: opts.inputs, fn }, ({ rowOf, stepOf, grads }) => {
        for (let j = 0; j < rowOf.length; j++) weight[rowOf[j]! * steps + stepOf[j]!] = weights[stepOf[j]!]! * grads[j * e + flat]!;
      });
      // pass 2: Σ_k weight_k ∂y/∂x (x_k), the neuron's input gradients weighted by pass 1
      const rowShape = x.shape.slice(1);
      const xe = rowSize(x.shape);
      const [xd, bd] = [(await x.data()) as Float32Array, (await base.data()) as Float32Array];
      const rowOf = Int32Array.from({ length: count }, (_, j) => Math.floor(j / steps));
      const build = (s: number, end: number) => {
        const pts = new Float32Array((end - s) * xe);
        for (let j = s; j < end; j++) {
          const o = rowOf[j]! * xe;
          const a = nodes[j % steps]!;
          for (let q = 0; q < xe; q++) pts[(j - s) * xe + q] = bd[o + q]! + a * (xd[o + q]! - bd[o + q]!);
        }
        return { points: pts };
      };
      const cut = bindInputs(this.model.upTo(this.layer), opts.inputs, n, fn);
      const neuron: ResolvedTarget = { kind: 'index', indices: new Int32Array(n).fill(flat) };
      const sum = await weightedGradientSum(cut, rowShape, n, { count, rowOf, weight, build }, neuron, run, batchSize, fn);
      const values = tf.tidy(() => tf.mul(sum, tf.sub(x, base)));
      sum.dispose();
      return new FeatureAttribution(this.id, values, withTargets(run.finish(), targetList(target)));
    } finally {
      base.dispose();
    }
  }
}

export interface NeuronConductanceOptions extends AttributeOptions {
  readonly neuron: NeuronIndex;
  readonly steps?: number;
  readonly rule?: QuadratureRule;
}

/** Neuron Gradient's one declaration: catalogue entry, CLI flags and defaults. */
export const neuronGradient = defineMethod({
  id: 'neuron-gradient',
  title: 'Neuron Gradient',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch',
  reference: 'Captum NeuronGradient',
  stochastic: false,
  output: 'feature',
  options: { ...neuronOption },
  create: (m: ModelAdapter, st) => new NeuronGradient(hookedModel(m, 'NeuronGradient'), { layer: layerFor(m, st, 'neuron-gradient') }),
});

/** Neuron Integrated Gradients's one declaration: catalogue entry, CLI flags and defaults. */
export const neuronIntegratedGradients = defineMethod({
  id: 'neuron-integrated-gradients',
  title: 'Neuron Integrated Gradients',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch × (steps + 2)',
  reference: 'Shrikumar et al. 2018, arXiv:1807.09946; Captum NeuronIntegratedGradients',
  stochastic: false,
  output: 'feature',
  options: { ...neuronOption, ...pathOptions },
  create: (m: ModelAdapter, st) => new NeuronIntegratedGradients(hookedModel(m, 'NeuronIntegratedGradients'), { layer: layerFor(m, st, 'neuron-integrated-gradients') }),
});

/** Neuron Conductance's one declaration: catalogue entry, CLI flags and defaults. */
export const neuronConductance = defineMethod({
  id: 'neuron-conductance',
  title: 'Neuron Conductance',
  family: 'layer',
  requires: 'hooks',
  layer: 'required',
  cost: 'batch × 3 × steps',
  reference: 'Dhamdhere et al. 2018, arXiv:1805.12233',
  stochastic: false,
  output: 'feature',
  options: { ...neuronOption, ...pathOptions },
  create: (m: ModelAdapter, st) => new NeuronConductance(hookedModel(m, 'NeuronConductance'), { layer: layerFor(m, st, 'neuron-conductance') }),
});
