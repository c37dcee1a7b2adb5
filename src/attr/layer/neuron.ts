import type * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution } from '../../core/result.js';
import type { QuadratureRule } from '../../core/quadrature.js';
import type { AttributeOptions, Attributor, Baseline, RunControl, Target } from '../../core/types.js';
import type { HookedModel } from '../../models/model.js';
import { IntegratedGradients } from '../gradient/integrated-gradients.js';
import { Saliency } from '../gradient/saliency.js';
import { LayerMethod, type LayerMethodSettings } from './internal.js';

/** A neuron of a layer: its index in the layer's output without the batch dim (e.g. [h, w, c]), or a flat index. */
export type NeuronIndex = number | readonly number[];

/** Options of the neuron methods: `neuron` replaces `target` (the attributed quantity is that unit's activation). */
export interface NeuronOptions extends RunControl {
  readonly neuron: NeuronIndex;
  /** Ignored: the neuron is the target. */
  readonly target?: Target;
  readonly baselines?: Baseline;
  readonly inputs?: AttributeOptions['inputs'];
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
    return n * (opts.steps ?? 50) + 2 * n;
  }
  attribute(x: tf.Tensor, opts: NeuronIntegratedGradientsOptions): Promise<FeatureAttribution> {
    return onNeuron(this.id, this.model, this.layer, new IntegratedGradients(this.model.upTo(this.layer)), x, opts, {}, 'NeuronIntegratedGradients.attribute');
  }
}
