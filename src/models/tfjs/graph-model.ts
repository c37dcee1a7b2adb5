import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { BackendError, CapabilityError, InvalidArgumentError, isAttributionError, UnknownHookError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import {
  gatherInputs,
  type ActivationCacheLike,
  type CallContext,
  type DifferentiableModel,
  type HookedModel,
  type LayerInfo,
  type RunOptions,
} from '../model.js';
import { gradientOf } from './gradients.js';
import { stringEntries } from '../metadata-entries.js';
import { forwardByRows, gradientsByRows, rowsThatFit } from './graph-batches.js';
import { graphPath, inputsOf, pathNodes } from './graph-path.js';
import { routedKernel } from './graph-routed.js';
import { gradientBlocker, routedNodes, type GradientBlocker } from './graph-trust.js';
import { ActivationCache } from '../activation-cache.js';
import { onGuardedBackend, wasmHeadroom } from './wasm-heap.js';

export interface GraphModelOptions {
  readonly name?: string;
  /** Output node to attribute, for graphs with several outputs. Default: the first output. */
  readonly outputName?: string;
  /**
   * Bytes one call may use for activations (estimated from the node shapes of one row: the sum of
   * every node's output; a gradient counts `GRADIENT_ROW_FACTOR` times that). Larger batches run in
   * row slices, so that a batch too large for wasm memory is split instead of exhausting it; on wasm
   * the slices also fit in what the 4 GiB heap has left. Default 512 MiB.
   */
  readonly memoryBudgetBytes?: number;
}

/** Structural view of the converter's graph: node names, ops, inputs and parsed attributes. */
export interface GraphNodeLike {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly GraphNodeLike[];
  /** Input tensor names (`node` or `node:k` for output k), as the converter parsed them. */
  readonly inputNames?: readonly string[];
  /** Attributes as the converter parsed them (camel-case names, e.g. `strides`, `fusedOps`). */
  readonly attrParams?: Readonly<Record<string, { readonly value?: unknown } | undefined>>;
}

/**
 * Bytes of a gradient call per byte of the forward estimate. Measured peaks of TF.js gradients on
 * wasm, per row, against the estimate: Human's anti-spoofing CNN 34 vs 6.6 MiB (5.2×), FaceMesh
 * 64 vs 11.9 MiB (5.4×), the face-attribute MobileNet 180 vs 104 MiB (1.7×): the tape keeps every
 * kernel's inputs and outputs, fused ops' parts included, and the backward pass adds its own.
 */
const GRADIENT_ROW_FACTOR = 6;

/** Ops that are not hook points (no computation of their own). */
const NOT_HOOKS = new Set(['Placeholder', 'Const', 'NoOp']);

/**
 * A differentiable, hookable adapter for a TF.js graph model (`execute`, synchronous ops only).
 * Gradients come from TF.js autodiff through the graph's ops; graphs with control flow need
 * `executeAsync` and cannot be differentiated: use a perturbation method for those.
 *
 * Hook points are the graph's op nodes (names as in the converted graph, e.g.
 * `StatefulPartitionedCall/model/conv2/Relu`): their outputs can be read (the executor returns any
 * node) and replaced (the executor takes any node as an input and computes only what depends on it),
 * so activation caches, patching and the layer methods work. What graph models cannot do: activation
 * and layer rules (guided backprop, DeepLIFT, LRP), because the graph runs as one program with
 * TF.js's own gradients; a function hook costs an extra partial run per hooked node.
 * Gradients never come out wrong: ops whose TF.js gradient is missing or wrong on the backend in
 * force run on attrib's kernels (`routedNodes`: MaxPool, fused and depthwise convolutions on wasm,
 * StridedSlice), and any other such op makes `capabilities.gradients` false and gradient calls
 * refuse, naming it (`gradientBlocker`). Calls are split in row slices within `memoryBudgetBytes`.
 */
export class GraphModelAdapter implements HookedModel {
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape?: readonly (number | null)[];
  readonly engine = 'tfjs' as const;
  readonly inputNames: readonly string[];
  /** The model's `userDefinedMetadata` as strings (see `ModelAdapter.metadata`). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** The graph's input node (the Placeholder fed with the attributed input). */
  readonly input: string;
  /** The graph's output node (the attributed output). */
  readonly output: string;
  private readonly shapes = new Map<string, readonly (number | null)[]>();
  private order: readonly GraphNodeLike[] | undefined;
  private readonly blockers = new Map<string, GradientBlocker | undefined>();
  private readonly routes = new Map<string, readonly GraphNodeLike[]>();
  private readonly memoryBudget: number;
  private rowBytes: number | undefined;

  constructor(
    readonly model: GraphModel,
    opts: GraphModelOptions = {},
  ) {
    this.name = opts.name ?? 'graph-model';
    const shape = model.inputs[0]?.shape;
    this.inputShape = shape ? shape.map((d) => (d === -1 ? null : d)) : [null];
    const out = opts.outputName ? model.outputs.find((o) => o.name === opts.outputName) : model.outputs[0];
    if (out?.shape) this.outputShape = out.shape.map((d) => (d === -1 ? null : d));
    // signature names may carry the output index ('Identity:0'): node names ('Identity') are what the
    // graph's nodes list, and what TF.js takes for output 0 too
    const nodeName = (t: string): string => t.replace(/:0$/, '');
    this.input = nodeName(model.inputNodes[0] ?? model.inputs[0]?.name ?? 'input');
    this.output = nodeName(opts.outputName ?? model.outputNodes[0] ?? model.outputs[0]?.name ?? 'output');
    this.inputNames = [this.input];
    const meta = stringEntries(model.metadata);
    if (meta) this.metadata = meta;
    this.memoryBudget = opts.memoryBudgetBytes ?? 512 * 1024 * 1024;
    if (!(this.memoryBudget > 0)) throw new InvalidArgumentError(`Option 'memoryBudgetBytes' passed to 'fromGraphModel' must be a positive number of bytes, got ${String(opts.memoryBudgetBytes)}`, { arg: 'memoryBudgetBytes' });
  }

  /**
   * Gradients are available when TF.js differentiates every op on the input → output path correctly
   * on the backend in force (see `gradientBlocker`); `gradientsUnavailable` names the op when not.
   */
  get capabilities(): { readonly gradients: boolean; readonly hooks: true } {
    return { gradients: this.blocker() === undefined, hooks: true };
  }

  /** Why gradients are unavailable on the backend in force (the op and the reason), if they are. */
  get gradientsUnavailable(): string | undefined {
    const b = this.blocker();
    return b ? `node '${b.node}' (${b.op}): ${b.reason}` : undefined;
  }

  /** Op nodes in topological order. */
  get hookNames(): readonly string[] {
    return this.nodes().map((n) => n.name);
  }

  hookShape(name: string): readonly (number | null)[] {
    this.node(name, 'hookShape');
    let s = this.shapes.get(name);
    if (!s) {
      // graph models rarely record shapes: probe one all-zero row (execute is synchronous)
      if (this.inputShape.slice(1).some((d) => d === null)) {
        throw new CapabilityError(`Model '${this.name}' has dynamic input dims [${this.inputShape.map((d) => d ?? '*').join(', ')}], so node shapes cannot be probed`, { model: this.name });
      }
      const probe = tf.tidy(() => this.exec({ [this.input]: tf.zeros([1, ...(this.inputShape.slice(1) as number[])]) }, [name])[0]!.shape);
      s = [null, ...probe.slice(1)];
      this.shapes.set(name, s);
    }
    return s;
  }

  hookClass(name: string): string {
    return this.node(name, 'hookClass').op;
  }

  // async: a failure (out of memory, a dead backend) is a rejected promise, never a synchronous throw
  async forward(x: tf.Tensor): Promise<tf.Tensor> {
    return forwardByRows(x, this.rowsPerCall(1), (v) => this.exec({ [this.input]: v }, [this.output])[0]!);
  }

  async gradients(x: tf.Tensor, objective: Objective): Promise<tf.Tensor> {
    const refusal = this.gradientRefusal('gradients');
    if (refusal) throw refusal;
    const routed = this.routed();
    return gradientsByRows(x, this.rowsPerCall(GRADIENT_ROW_FACTOR), (v) => this.execRouted({ [this.input]: v }, this.output, routed), objective);
  }

  async run(x: tf.Tensor, opts: RunOptions = {}): Promise<tf.Tensor> {
    const feeds: Record<string, tf.Tensor> = { [this.input]: x };
    for (const [name, t] of Object.entries(opts.patches ?? {})) {
      this.node(name, 'run');
      feeds[name] = t;
    }
    const hooks = Object.entries(opts.hooks ?? {});
    for (const [name] of hooks) this.node(name, 'run');
    const made: tf.Tensor[] = [];
    try {
      // each function hook: compute its node from what is fed so far, apply it, feed the result on
      for (const node of this.nodes()) {
        const hook = opts.hooks?.[node.name];
        if (!hook || feeds[node.name]) continue;
        const a = this.exec(feeds, [node.name])[0]!;
        const r = tf.tidy(() => hook(a, { name: node.name }) ?? tf.clone(a));
        a.dispose();
        made.push(r);
        feeds[node.name] = r;
      }
      return tf.tidy(() => this.exec(feeds, [this.output])[0]!);
    } finally {
      tf.dispose(made);
    }
  }

  async runWithCache(x: tf.Tensor, names?: readonly string[]): Promise<{ readonly output: tf.Tensor; readonly cache: ActivationCacheLike }> {
    const keep = names ?? this.hookNames;
    for (const n of keep) this.node(n, 'runWithCache');
    const [output, ...acts] = tf.tidy(() => this.exec({ [this.input]: x }, [this.output, ...keep]).map((t) => t.clone()));
    return { output: output!, cache: new ActivationCache(new Map(keep.map((n, i) => [n, acts[i]!]))) };
  }

  async activation(x: tf.Tensor, name: string): Promise<tf.Tensor> {
    this.node(name, 'activation');
    return tf.tidy(() => this.exec({ [this.input]: x }, [name])[0]!);
  }

  atLayer(name: string, opts: { readonly rule?: unknown } = {}): DifferentiableModel {
    if (opts.rule) this.noRules();
    this.node(name, 'atLayer');
    const feeds = async (a: tf.Tensor, ctx?: CallContext) => {
      const x = ctx?.inputs?.[this.input] ? (await gatherInputs(ctx, [this.input], this.name))[this.input] : undefined;
      return { feeds: (v: tf.Tensor) => ({ [name]: v, ...(x ? { [this.input]: x } : {}) }), done: () => x?.dispose(), a };
    };
    return this.view(`${this.name}@${name}`, this.hookShape(name), this.outputShape, [this.output], feeds);
  }

  upTo(name: string): DifferentiableModel {
    this.node(name, 'upTo');
    const feeds = async (a: tf.Tensor) => ({ feeds: (v: tf.Tensor) => ({ [this.input]: v }), done: () => undefined, a });
    return this.view(`${this.name}→${name}`, this.inputShape, this.hookShape(name), [name], feeds);
  }

  withRules(): DifferentiableModel {
    return this.noRules();
  }

  describeLayers(): readonly LayerInfo[] {
    const consumers = new Map<string, string[]>();
    for (const n of this.nodes()) for (const i of n.inputs) consumers.set(i.name, [...(consumers.get(i.name) ?? []), n.name]);
    return this.nodes().map((n) => ({
      name: n.name,
      className: n.op,
      inputs: n.inputs.filter((i) => !NOT_HOOKS.has(i.op)).map((i) => i.name),
      consumers: consumers.get(n.name) ?? [],
      readsInput: n.inputs.some((i) => i.op === 'Placeholder'),
      activation: 'linear',
      config: {},
      params: () => ({}),
    }));
  }

  dispose(): void {
    this.model.dispose();
  }

  private view(
    name: string,
    inputShape: readonly (number | null)[],
    outputShape: readonly (number | null)[] | undefined,
    outputs: string[],
    prepare: (a: tf.Tensor, ctx?: CallContext) => Promise<{ feeds: (v: tf.Tensor) => Record<string, tf.Tensor>; done: () => void; a: tf.Tensor }>,
  ): DifferentiableModel {
    return {
      name,
      inputShape,
      ...(outputShape ? { outputShape } : {}),
      inputNames: this.inputNames,
      capabilities: { gradients: true, hooks: false },
      engine: 'tfjs',
      forward: async (a, ctx) => {
        const p = await prepare(a, ctx);
        try {
          return tf.tidy(() => this.exec(p.feeds(a), outputs)[0]!);
        } finally {
          p.done();
        }
      },
      gradients: async (a, objective, ctx) => {
        const refusal = this.gradientRefusal('gradients');
        if (refusal) throw refusal;
        const p = await prepare(a, ctx);
        try {
          const routed = this.routed();
          return gradientOf((v) => this.execRouted(p.feeds(v), outputs[0]!, routed), a, objective);
        } finally {
          p.done();
        }
      },
      dispose: () => undefined,
    };
  }

  /**
   * Rows per call within the memory budget, for a call using `factor` times the forward's
   * activations; on wasm also within what its 4 GiB heap has left (`wasmHeadroom`).
   */
  private rowsPerCall(factor: number): number {
    if (this.rowBytes === undefined) {
      const dims = this.inputShape.slice(1);
      if (dims.some((d) => d === null)) this.rowBytes = 0;
      else {
        const names = this.nodes().map((n) => n.name);
        this.rowBytes = tf.tidy(() => this.exec({ [this.input]: tf.zeros([1, ...(dims as number[])]) }, names).reduce((a, t) => a + t.size * 4, 0));
      }
    }
    return this.rowBytes === 0 ? Number.POSITIVE_INFINITY : rowsThatFit(this.rowBytes * factor, Math.min(this.memoryBudget, wasmHeadroom() ?? Number.POSITIVE_INFINITY));
  }

  /** The path's nodes computed with attrib's kernels on the backend in force (see `routedNodes`). */
  private routed(): readonly GraphNodeLike[] {
    const backend = tf.getBackend();
    if (!this.routes.has(backend)) {
      const all = this.graphNodes();
      this.routes.set(backend, routedNodes(pathNodes(all, graphPath(all, this.input, this.output), this.input), backend));
    }
    return this.routes.get(backend)!;
  }

  /**
   * `output` from `feeds`, segment by segment: each routed node's inputs come from the converter's
   * executor (fed with everything computed so far), its output from attrib's kernel.
   */
  private execRouted(feeds: Record<string, tf.Tensor>, output: string, routed: readonly GraphNodeLike[]): tf.Tensor {
    const fed = { ...feeds };
    for (const r of routed) {
      if (fed[r.name]) continue;
      fed[r.name] = routedKernel(r, this.exec(fed, inputsOf(r)));
    }
    return this.exec(fed, [output])[0]!;
  }

  /** The first op through which TF.js gives no (or a wrong) input gradient on the backend in force. */
  private blocker(): GradientBlocker | undefined {
    const backend = tf.getBackend();
    if (!this.blockers.has(backend)) {
      const all = this.graphNodes();
      this.blockers.set(backend, gradientBlocker(pathNodes(all, graphPath(all, this.input, this.output), this.input), backend));
    }
    return this.blockers.get(backend);
  }

  /** The refusal, naming the op, to give before any work when gradients cannot be had correctly. */
  private gradientRefusal(fn: string): CapabilityError | undefined {
    const b = this.blocker();
    if (!b) return undefined;
    return new CapabilityError(
      `Argument 'model' passed to '${fn}': graph model '${this.name}' has no correct TF.js gradient on the ${tf.getBackend()} backend through node '${b.node}' (${b.op}): ${b.reason}; use the cpu backend, or load it with engine 'auto' or 'onnx' (ONNX Runtime) when every op converts`,
      { model: this.name, node: b.node, op: b.op, backend: tf.getBackend() },
    );
  }

  private noRules(): never {
    throw new CapabilityError(
      `Model '${this.name}' is a TF.js graph model: it runs as one program with TF.js's own gradients, so activation and layer rules (guided backprop, deconvolution, DeepLIFT, LRP) cannot be applied; load the model in layers format (model.json from tf.LayersModel.save) for those methods`,
      { model: this.name },
    );
  }

  private exec(feeds: Record<string, tf.Tensor>, outputs: string[]): tf.Tensor[] {
    return onGuardedBackend(() => {
      try {
        const out = this.model.execute(feeds, outputs);
        return Array.isArray(out) ? out : [out];
      } catch (e) {
        if (isAttributionError(e)) throw e;
        throw new BackendError(`Graph model execution failed: ${(e as Error).message}`, {}, e); // a wasm trap stays its cause: onGuardedBackend makes it the dead-backend error
      }
    });
  }

  /** Every node of the graph (Placeholder and Const nodes included) in topological order. */
  graphNodes(): readonly GraphNodeLike[] {
    const graph = (this.model as unknown as { executor?: { graph?: { nodes?: Record<string, GraphNodeLike> } } }).executor?.graph?.nodes ?? {};
    const seen = new Set<string>();
    const order: GraphNodeLike[] = [];
    const visit = (n: GraphNodeLike) => {
      if (seen.has(n.name)) return;
      seen.add(n.name);
      for (const i of n.inputs ?? []) visit(i);
      order.push(n);
    };
    for (const n of Object.values(graph)) visit(n);
    return order;
  }

  private nodes(): readonly GraphNodeLike[] {
    this.order ??= this.graphNodes().filter((n) => !NOT_HOOKS.has(n.op));
    return this.order;
  }


  private node(name: string, fn: string): GraphNodeLike {
    const n = this.nodes().find((m) => m.name === name);
    if (!n) {
      const names = this.hookNames;
      const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length} in all)` : names.join(', ');
      throw new UnknownHookError(`Argument 'layer' passed to '${fn}' names no node of graph model '${this.name}': '${name}'; its nodes are ${shown}`, { arg: 'layer', fn, layer: name, layers: names });
    }
    return n;
  }
}

/** A differentiable, hookable adapter for a TF.js graph model (see `GraphModelAdapter`). */
export const fromGraphModel = (model: GraphModel, opts: GraphModelOptions = {}): GraphModelAdapter => new GraphModelAdapter(model, opts);
