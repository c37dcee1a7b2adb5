import * as tf from '@tensorflow/tfjs-core';
import { ModelLoadError, UnknownHookError } from '../../core/errors.js';
import type { ActivationRule, HookFn, LayerInfo, LayerRule } from '../model.js';
import { first, pair } from './layer-config.js';
import { layerCall, paramsOf } from './layer-call.js';
import { globalMaxPoolFirstMax, maxPool1dFirstMax, maxPool2dFirstMax } from './pooling.js';

// Structural views of tfjs-layers internals used to run a model layer by layer.
export interface SymbolicRef {
  readonly id: number;
  readonly shape?: readonly (number | null)[];
}
interface ActivationLike {
  apply(x: tf.Tensor, axis?: number): tf.Tensor;
  getClassName(): string;
}
export interface LayerLike {
  readonly name: string;
  activation?: ActivationLike;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}
export interface NodeLike {
  readonly outboundLayer: LayerLike;
  readonly inputTensors: readonly SymbolicRef[];
  readonly outputTensors: readonly SymbolicRef[];
  readonly callArgs?: Record<string, unknown>;
}
export interface GraphLike {
  readonly name: string;
  readonly inputs: readonly (SymbolicRef & { readonly shape: readonly (number | null)[] })[];
  readonly outputs: readonly (SymbolicRef & { readonly shape: readonly (number | null)[] })[];
  readonly nodesByDepth: Record<string, readonly NodeLike[]>;
}

/** One layer call of the model: a hook point named after its layer (`name#k` for the k-th call of a shared layer). */
export interface ExecNode {
  readonly name: string;
  readonly layer: LayerLike;
  readonly node: NodeLike;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Output shape, `null` for the batch and dynamic dims. */
  readonly shape: readonly (number | null)[];
}

/** What one execution reads, replaces and returns. */
export interface RunSpec {
  /** Tensor ids to return. */
  readonly want: readonly number[];
  /** Node outputs supplied by the caller: the node does not run. */
  readonly patches?: ReadonlyMap<string, tf.Tensor>;
  /** Functions applied to node outputs after the node runs (a returned tensor replaces the output). */
  readonly hooks?: ReadonlyMap<string, HookFn>;
  /** Replaces every elementwise activation (fused or an Activation/ReLU layer): modified back-propagation. */
  readonly rule?: ActivationRule;
  /** Replaces whole layer calls (layer-wise relevance propagation). */
  readonly layerRule?: LayerRule;
}

/**
 * The layer graph of a TF.js layers model in execution order, and a synchronous interpreter over it
 * that evaluates only what the wanted tensors depend on. Max-pooling layers run as first-max-routed
 * equivalents (right gradients on every backend). Hooks and patches are per call: nothing is
 * installed on the model.
 */
export class LayerGraph {
  readonly nodes: readonly ExecNode[];
  private readonly byName: ReadonlyMap<string, ExecNode>;
  private readonly producer: ReadonlyMap<number, ExecNode>;

  constructor(
    readonly graph: GraphLike,
    readonly modelName: string,
  ) {
    const depths = Object.keys(graph.nodesByDepth)
      .map(Number)
      .sort((a, b) => b - a);
    const raw = depths.flatMap((d) => graph.nodesByDepth[String(d)] ?? []).filter((n) => n.outboundLayer.getClassName() !== 'InputLayer');
    const calls = new Map<LayerLike, number>();
    for (const n of raw) calls.set(n.outboundLayer, (calls.get(n.outboundLayer) ?? 0) + 1);
    const seen = new Map<LayerLike, number>();
    this.nodes = raw.map((node) => {
      const layer = node.outboundLayer;
      const k = seen.get(layer) ?? 0;
      seen.set(layer, k + 1);
      const name = calls.get(layer)! > 1 ? `${layer.name}#${k}` : layer.name;
      return {
        name,
        layer,
        node,
        inputs: node.inputTensors.map((t) => t.id),
        outputs: node.outputTensors.map((t) => t.id),
        shape: [...(node.outputTensors[0]?.shape ?? [])],
      };
    });
    this.byName = new Map(this.nodes.map((n) => [n.name, n]));
    const producer = new Map<number, ExecNode>();
    for (const n of this.nodes) for (const id of n.outputs) producer.set(id, n);
    this.producer = producer;
  }

  get names(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** Every layer with its producers and consumers. */
  describe(): LayerInfo[] {
    const consumers = new Map<number, string[]>();
    for (const n of this.nodes) for (const id of n.inputs) consumers.set(id, [...(consumers.get(id) ?? []), n.name]);
    return this.nodes.map((n) => {
      const from = n.inputs.map((id) => this.producer.get(id));
      return {
        name: n.name,
        className: n.layer.getClassName(),
        inputs: from.filter((p): p is ExecNode => p !== undefined).map((p) => p.name),
        consumers: n.outputs.flatMap((id) => consumers.get(id) ?? []),
        readsInput: from.some((p) => p === undefined),
        activation: n.layer.activation?.getClassName() ?? 'linear',
        config: n.layer.getConfig(),
        params: () => paramsOf(n.layer),
      };
    });
  }

  /** The node of a hook name; throws `unknown_hook` naming the valid ones. */
  node(name: string, fn: string): ExecNode {
    const n = typeof name === 'string' ? this.byName.get(name) : undefined;
    if (!n) {
      const names = this.names;
      const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length} in all)` : names.join(', ');
      throw new UnknownHookError(`Argument 'layer' passed to '${fn}' names no layer of model '${this.modelName}': '${String(name)}'; its layers are ${shown}`, {
        arg: 'layer',
        fn,
        layer: name,
        layers: names,
      });
    }
    if (n.outputs.length !== 1) {
      throw new UnknownHookError(`Layer '${name}' of model '${this.modelName}' has ${n.outputs.length} outputs; '${fn}' hooks single-output layers only`, { layer: name, fn });
    }
    return n;
  }

  /** Model input ids that the wanted tensors depend on, given the patched nodes. */
  inputsNeeded(want: readonly number[], patched: ReadonlySet<string>): Set<number> {
    const inputs = new Set<number>();
    this.walk(want, patched, (id) => inputs.add(id));
    return inputs;
  }

  /**
   * Runs the nodes the wanted tensors depend on (synchronous, for use inside `tf.grad`; wrap in
   * `tf.tidy`). `values` holds the model inputs by tensor id. Returns the wanted tensors in order.
   */
  execute(values: Map<number, tf.Tensor>, spec: RunSpec): tf.Tensor[] {
    const patched = new Set(spec.patches?.keys() ?? []);
    const needed = this.walk(spec.want, patched, () => undefined);
    for (const n of this.nodes) {
      if (!needed.has(n)) continue;
      const patch = spec.patches?.get(n.name);
      if (patch) {
        values.set(n.outputs[0]!, patch);
        continue;
      }
      const ins = n.inputs.map((id) => {
        const v = values.get(id);
        if (!v) throw new ModelLoadError(`Layer '${n.name}' of model '${this.modelName}' reads a tensor that no earlier layer produced`, { layer: n.name });
        return v;
      });
      const input = ins.length === 1 ? ins[0]! : ins;
      const out = (spec.layerRule && spec.layerRule(layerCall(n, ins, () => runLayer(n, input, spec.rule)))) || runLayer(n, input, spec.rule);
      const outs = Array.isArray(out) ? out : [out];
      n.outputs.forEach((id, i) => values.set(id, outs[i]!));
      const hook = spec.hooks?.get(n.name);
      if (hook) {
        const replaced = hook(outs[0]!, { name: n.name });
        if (replaced) values.set(n.outputs[0]!, replaced);
      }
    }
    return spec.want.map((id) => {
      const v = values.get(id);
      if (!v) throw new ModelLoadError(`Model '${this.modelName}' produced no value for tensor ${id}`, { tensor: id });
      return v;
    });
  }

  /** Nodes the wanted tensors depend on; `onInput` sees each model input reached. */
  private walk(want: readonly number[], patched: ReadonlySet<string>, onInput: (id: number) => void): Set<ExecNode> {
    const needed = new Set<ExecNode>();
    const stack = [...want];
    const visited = new Set<number>();
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (visited.has(id)) continue;
      visited.add(id);
      const p = this.producer.get(id);
      if (!p) {
        onInput(id);
        continue;
      }
      needed.add(p);
      if (!patched.has(p.name)) stack.push(...p.inputs);
    }
    return needed;
  }
}

/** Elementwise activations a rule may replace (softmax is not elementwise and keeps its own gradient). */
const ELEMENTWISE = new Set(['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'hard_sigmoid', 'tanh', 'softplus', 'softsign', 'swish', 'gelu', 'gelu_new', 'mish']);

/** One layer call: max-pooling runs first-max routed; with a rule, elementwise activations go through it. */
function runLayer(n: ExecNode, input: tf.Tensor | tf.Tensor[], rule?: ActivationRule): tf.Tensor | tf.Tensor[] {
  const layer = n.layer;
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
    if (cls === 'Conv2D' && channelsLast && (rule || underGradient())) return conv2dLayer(n, input, cfg, rule);
    if (rule && cls === 'ReLU' && cfg['maxValue'] == null) {
      return rule(input, { name: n.name, activation: 'relu', apply: (z) => tf.relu(z) });
    }
  }
  const kwargs = { ...(n.node.callArgs ?? {}), training: false };
  const act = layer.activation;
  const kind = act?.getClassName();
  if (!rule || !act || kind === undefined || !ELEMENTWISE.has(kind)) return layer.apply(input, kwargs);
  // Swap the fused activation for the rule for this synchronous call only, then restore it.
  // (a class name of its own, so that Dense/Conv do not fuse the original activation into their kernel)
  layer.activation = { getClassName: () => `attrib-rule:${kind}`, apply: (z: tf.Tensor) => rule(z, { name: n.name, activation: kind, apply: (v) => act.apply(v) }) };
  try {
    return layer.apply(input, kwargs);
  } finally {
    layer.activation = act;
  }
}

/** True inside `tf.grad` (TF.js fuses kernels only outside gradient tapes, or for linear activations). */
const underGradient = (): boolean => ((tf.engine() as unknown as { state?: { gradientDepth?: number } }).state?.gradientDepth ?? 0) > 0;

/**
 * Conv2D as plain ops (under gradients and rules; forward passes keep the faster fused kernel). TF.js runs a Conv2D with a linear activation as a fused kernel whose gradient
 * eagerly computes the filter gradient (Conv2DBackpropFilter, which the wasm backend lacks) even when
 * only the input gradient is asked for; plain `conv2d` + `add` differentiate lazily.
 */
function conv2dLayer(n: ExecNode, input: tf.Tensor, cfg: Record<string, unknown>, rule?: ActivationRule): tf.Tensor {
  const layer = n.layer as LayerLike & { kernel?: { read(): tf.Tensor }; bias?: { read(): tf.Tensor } | null };
  if (!layer.kernel) return layer.apply(input, { ...(n.node.callArgs ?? {}), training: false }) as tf.Tensor;
  const strides = pair(cfg['strides'], 1);
  const dilations = pair(cfg['dilationRate'], 1);
  const padding = cfg['padding'] === 'same' ? 'same' : 'valid';
  let y: tf.Tensor = tf.conv2d(input as tf.Tensor4D, layer.kernel.read() as tf.Tensor4D, strides, padding, 'NHWC', dilations);
  if (layer.bias) y = tf.add(y, layer.bias.read());
  const act = layer.activation;
  const kind = act?.getClassName();
  if (!act || kind === 'linear') return y;
  if (rule && kind !== undefined && ELEMENTWISE.has(kind)) return rule(y, { name: n.name, activation: kind, apply: (v) => act.apply(v) });
  return act.apply(y);
}
