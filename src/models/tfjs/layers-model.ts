import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CapabilityError, ModelLoadError, ShapeMismatchError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import { gatherInputs, type CallContext, type DifferentiableModel } from '../model.js';
import { globalMaxPoolFirstMax, maxPool1dFirstMax, maxPool2dFirstMax } from './pooling.js';
import { gradientOf } from './gradients.js';

// Structural views of tfjs-layers internals used to run a model layer by layer.
interface SymbolicRef {
  readonly id: number;
}
interface LayerLike {
  readonly name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}
interface NodeLike {
  readonly outboundLayer: LayerLike;
  readonly inputTensors: readonly SymbolicRef[];
  readonly outputTensors: readonly SymbolicRef[];
  readonly callArgs?: Record<string, unknown>;
}
interface GraphLike {
  readonly name: string;
  readonly inputs: readonly (SymbolicRef & { readonly shape: readonly (number | null)[] })[];
  readonly outputs: readonly (SymbolicRef & { readonly shape: readonly (number | null)[] })[];
  readonly nodesByDepth: Record<string, readonly NodeLike[]>;
}

export interface LayersModelOptions {
  readonly name?: string;
  /** For multi-input models: the input to attribute (default: the first). The others come from `inputs` in the attribute options. */
  readonly input?: string;
  /** Which model output to attribute, for multi-output models. Default 0. */
  readonly output?: number;
}

/**
 * Runs a TF.js layers model (Sequential or functional) node by node, in depth order, so that pooling
 * layers can be replaced by versions with first-max gradient routing (correct on every backend).
 * This executor is also where named hook points will live.
 */
export class LayersModelAdapter implements DifferentiableModel {
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
  private readonly graph: GraphLike;
  private readonly order: readonly NodeLike[];
  private readonly outputIndex: number;

  constructor(
    readonly model: LayersModel,
    opts: LayersModelOptions = {},
  ) {
    const graph = model as unknown as GraphLike;
    // a loaded Sequential model builds its inner graph lazily (on first predict)
    const lazy = model as unknown as { nodesByDepth?: object; build?: () => void };
    if (lazy && (!lazy.nodesByDepth || Object.keys(lazy.nodesByDepth).length === 0) && typeof lazy.build === 'function') lazy.build();
    if (!graph || !graph.nodesByDepth || !Array.isArray(graph.inputs) || !Array.isArray(graph.outputs)) {
      throw new ModelLoadError(`Argument 'model' passed to 'fromLayersModel' must be a built tf.LayersModel (call model.build or load it first)`, {
        arg: 'model',
      });
    }
    this.graph = graph;
    this.name = opts.name ?? model.name;
    const names = (model as unknown as { inputNames?: string[] }).inputNames ?? graph.inputs.map((_, i) => `input_${i}`);
    const attributed = opts.input === undefined ? 0 : names.indexOf(opts.input);
    if (attributed < 0) {
      throw new ModelLoadError(`Option 'input' passed to 'fromLayersModel' names no input of the model: '${opts.input}'; inputs are ${names.join(', ')}`, {
        arg: 'input',
        inputs: names,
      });
    }
    this.attributed = attributed;
    this.inputIds = graph.inputs.map((t) => t.id);
    this.modelInputNames = names;
    this.inputNames = [names[attributed]!, ...names.filter((_, i) => i !== attributed)];
    this.otherInputs = names.filter((_, i) => i !== attributed);
    this.inputShape = [...(graph.inputs[attributed]!.shape ?? [])];
    this.outputIndex = opts.output ?? 0;
    if (this.outputIndex < 0 || this.outputIndex >= graph.outputs.length) {
      throw new ModelLoadError(`Option 'output' passed to 'fromLayersModel' must be in [0, ${graph.outputs.length}), got ${this.outputIndex}`, {
        arg: 'output',
      });
    }
    this.outputShape = [...(graph.outputs[this.outputIndex]!.shape ?? [])];
    const depths = Object.keys(graph.nodesByDepth)
      .map(Number)
      .sort((a, b) => b - a);
    this.order = depths.flatMap((d) => graph.nodesByDepth[String(d)] ?? []);
    const inputId = graph.inputs[attributed]!.id;
    this.embeddingOfInput = this.order.find((n) => n.outboundLayer.getClassName() === 'Embedding' && n.inputTensors.some((t) => t.id === inputId))?.outboundLayer.name;
  }

  /** Name of the Embedding layer that reads the attributed input (token ids), if any. */
  readonly embeddingOfInput: string | undefined;

  /**
   * Differentiable unless the attributed input is token ids (it feeds an Embedding layer): then
   * `gradients` is false at run time and `gradientsUnavailable` says why, so gradient methods refuse
   * the model when they are constructed.
   */
  get capabilities(): { readonly gradients: true; readonly hooks: false } {
    return { gradients: (this.embeddingOfInput === undefined) as true, hooks: false };
  }

  get gradientsUnavailable(): string | undefined {
    if (this.embeddingOfInput === undefined) return undefined;
    return `its input holds token ids (it feeds Embedding layer '${this.embeddingOfInput}'), which have no gradient: attribute in embedding space or use a perturbation method`;
  }
  /** All input names, the attributed one first. */
  readonly inputNames: readonly string[];
  private readonly otherInputs: readonly string[];
  private readonly attributed: number;
  private readonly inputIds: readonly number[];
  /** Input names in the model's own order. */
  private readonly modelInputNames: readonly string[];

  /** Synchronous forward pass (for use inside `tf.grad`); `others` feeds the other inputs by name. */
  apply(x: tf.Tensor, others: Readonly<Record<string, tf.Tensor>> = {}): tf.Tensor {
    this.checkInput(x);
    const values = new Map<number, tf.Tensor>();
    this.inputIds.forEach((id, i) => {
      if (i === this.attributed) values.set(id, x);
      else {
        const name = this.modelInputNames[i]!;
        const v = others[name];
        if (!v) throw new CapabilityError(`Model '${this.name}' also needs input '${name}': pass it as inputs: { ${name}: tensor }`, { model: this.name, input: name });
        values.set(id, v);
      }
    });
    for (const node of this.order) {
      const layer = node.outboundLayer;
      if (layer.getClassName() === 'InputLayer') continue;
      const ins = node.inputTensors.map((s) => {
        const v = values.get(s.id);
        if (!v) throw new ModelLoadError(`Layer '${layer.name}' reads a tensor that no earlier layer produced`, { layer: layer.name });
        return v;
      });
      const out = runLayer(layer, ins.length === 1 ? ins[0]! : ins, node.callArgs);
      const outs = Array.isArray(out) ? out : [out];
      node.outputTensors.forEach((s, i) => values.set(s.id, outs[i]!));
    }
    const y = values.get(this.graph.outputs[this.outputIndex]!.id);
    if (!y) throw new ModelLoadError(`Model '${this.name}' produced no value for output ${this.outputIndex}`, {});
    return y;
  }

  async forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
    if (this.otherInputs.length === 0) return tf.tidy(() => this.apply(x));
    const others = await gatherInputs(ctx, this.otherInputs, this.name);
    try {
      return tf.tidy(() => this.apply(x, others));
    } finally {
      tf.dispose(Object.values(others));
    }
  }

  async gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    if (this.embeddingOfInput !== undefined) {
      throw new CapabilityError(
        `Model '${this.name}' takes token ids (its input feeds Embedding layer '${this.embeddingOfInput}'): ids have no gradient. Attribute in embedding space (LayerIntegratedGradients on '${this.embeddingOfInput}') or use a perturbation method (feature-ablation, kernel-shap, lime)`,
        { model: this.name, layer: this.embeddingOfInput },
      );
    }
    if (this.otherInputs.length === 0) return gradientOf((v) => this.apply(v), x, objective);
    const others = await gatherInputs(ctx, this.otherInputs, this.name);
    try {
      return gradientOf((v) => this.apply(v, others), x, objective);
    } finally {
      tf.dispose(Object.values(others));
    }
  }

  dispose(): void {
    this.model.dispose();
  }

  private checkInput(x: tf.Tensor): void {
    const want = this.inputShape;
    const ok = x.rank === want.length && want.every((d, i) => d === null || d === x.shape[i]);
    if (!ok) {
      throw new ShapeMismatchError(
        `Argument 'x' passed to model '${this.name}' must have shape [${want.map((d) => d ?? '*').join(', ')}], got [${x.shape.join(', ')}]`,
        { arg: 'x', model: this.name, expected: want, actual: x.shape },
      );
    }
  }
}

/** One layer call; max-pooling layers are replaced by first-max-routed equivalents. */
function runLayer(layer: LayerLike, input: tf.Tensor | tf.Tensor[], callArgs?: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
  const cls = layer.getClassName();
  if (!Array.isArray(input)) {
    const cfg = layer.getConfig();
    const channelsLast = cfg['dataFormat'] === undefined || cfg['dataFormat'] === 'channelsLast';
    if (channelsLast) {
      if (cls === 'MaxPooling2D') {
        const pool = pair(cfg['poolSize'], 2);
        const strides = cfg['strides'] == null ? pool : pair(cfg['strides'], 1);
        return maxPool2dFirstMax(input as tf.Tensor4D, { poolSize: pool, strides, padding: cfg['padding'] === 'same' ? 'same' : 'valid' });
      }
      if (cls === 'MaxPooling1D') {
        const pool = first(cfg['poolSize'], 2);
        const stride = cfg['strides'] == null ? pool : first(cfg['strides'], pool);
        return maxPool1dFirstMax(input as tf.Tensor3D, pool, stride, cfg['padding'] === 'same' ? 'same' : 'valid');
      }
      if (cls === 'GlobalMaxPooling1D' || cls === 'GlobalMaxPooling2D') return globalMaxPoolFirstMax(input);
    }
  }
  const kwargs = { ...(callArgs ?? {}), training: false };
  return layer.apply(input, kwargs);
}

function pair(v: unknown, dflt: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0] ?? dflt), Number(v[1] ?? v[0] ?? dflt)];
  if (typeof v === 'number') return [v, v];
  return [dflt, dflt];
}

function first(v: unknown, dflt: number): number {
  if (Array.isArray(v)) return Number(v[0] ?? dflt);
  if (typeof v === 'number') return v;
  return dflt;
}

/**
 * A differentiable adapter for a TF.js layers model.
 * @example
 * ```ts
 * const model = fromLayersModel(await tf.loadLayersModel(handler));
 * ```
 */
export const fromLayersModel = (model: LayersModel, opts: LayersModelOptions = {}): LayersModelAdapter => new LayersModelAdapter(model, opts);
