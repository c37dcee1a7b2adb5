import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CapabilityError, InvalidArgumentError, ModelLoadError, ShapeMismatchError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import {
  gatherInputs,
  type ActivationRule,
  type CallContext,
  type DifferentiableModel,
  type HookFn,
  type HookedModel,
  type InputSpec,
  type LayerInfo,
  type LayerRule,
  type RuleSet,
  type RunOptions,
} from '../model.js';
import { stringEntries } from '../metadata-entries.js';
import { ActivationCache } from '../activation-cache.js';
import { LayerGraph, type GraphLike } from './executor.js';
import { gradientOf } from './gradients.js';
import { onGuardedBackend } from './wasm-heap.js';

export { ActivationCache };

export interface LayersModelOptions {
  readonly name?: string;
  /** For multi-input models: the input to attribute (default: the first). The others come from `inputs` in the attribute options. */
  readonly input?: string;
  /** Which model output to attribute, for multi-output models. Default 0. */
  readonly output?: number;
}

/** Where a view of the model starts and ends. */
interface ViewSpec {
  readonly name: string;
  /** Hook name whose output the view takes as input; undefined = the attributed model input. */
  readonly entry?: string;
  /** Tensor id the view returns. */
  readonly exit: number;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
  readonly rule?: ActivationRule;
  readonly layerRule?: LayerRule;
}

/**
 * Runs a TF.js layers model (Sequential or functional, with branches and residual adds) layer by
 * layer under attrib's control. Every layer output is a named hook point (its layer name; `name#k`
 * for the k-th call of a shared layer) that one call can read, replace or differentiate against;
 * max-pooling runs with first-max gradient routing (right on every backend).
 */
export class LayersModelAdapter implements DifferentiableModel, HookedModel {
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
  /** All input names, the attributed one first. */
  readonly inputNames: readonly string[];
  /** The model's `userDefinedMetadata` as strings (see `ModelAdapter.metadata`). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Name of the Embedding layer that reads the attributed input (token ids), if any. */
  readonly embeddingOfInput: string | undefined;
  /** Rows of that Embedding layer (its `inputDim`): token ids must be below it. */
  readonly embeddingRows: number | undefined;
  /** The layer graph and its interpreter. */
  readonly layers: LayerGraph;
  private readonly self: ViewSpec;
  private readonly attributed: number;
  private readonly inputIds: readonly number[];
  /** Input names in the model's own order. */
  private readonly modelInputNames: readonly string[];

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
    this.name = opts.name ?? model.name;
    const meta = stringEntries(model.getUserDefinedMetadata());
    if (meta) this.metadata = meta;
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
    this.inputShape = [...(graph.inputs[attributed]!.shape ?? [])];
    const outputIndex = opts.output ?? 0;
    if (outputIndex < 0 || outputIndex >= graph.outputs.length) {
      throw new ModelLoadError(`Option 'output' passed to 'fromLayersModel' must be in [0, ${graph.outputs.length}), got ${outputIndex}`, {
        arg: 'output',
      });
    }
    this.outputShape = [...(graph.outputs[outputIndex]!.shape ?? [])];
    this.layers = new LayerGraph(graph, this.name);
    const inputId = graph.inputs[attributed]!.id;
    const embedding = this.layers.nodes.find((n) => n.layer.getClassName() === 'Embedding' && n.inputs.includes(inputId))?.layer;
    this.embeddingOfInput = embedding?.name;
    const rows = embedding ? (embedding.getConfig() as { inputDim?: unknown }).inputDim : undefined;
    this.embeddingRows = typeof rows === 'number' ? rows : undefined;
    this.self = { name: this.name, exit: graph.outputs[outputIndex]!.id, inputShape: this.inputShape, outputShape: this.outputShape };
  }

  /**
   * Differentiable unless the attributed input is token ids (it feeds an Embedding layer): then
   * `gradients` is false at run time and `gradientsUnavailable` says why, so gradient methods refuse
   * the model when they are constructed. Layer methods (`atLayer`) still differentiate.
   */
  readonly engine = 'tfjs' as const;

  get capabilities(): { readonly gradients: true; readonly hooks: true } {
    return { gradients: (this.embeddingOfInput === undefined) as true, hooks: true };
  }

  /**
   * The attributed input, declared: token ids (int32, batch first) when it feeds an Embedding layer,
   * else float features. Single-input models only; other inputs' roles are not known here.
   */
  get inputSpecs(): readonly InputSpec[] | undefined {
    if (this.inputNames.length !== 1) return undefined;
    const ids = this.embeddingOfInput !== undefined;
    return [{ name: this.inputNames[0]!, dtype: ids ? 'int32' : 'float32', role: ids ? 'token-ids' : 'features', shape: this.inputShape, batchAxis: 0 }];
  }

  get gradientsUnavailable(): string | undefined {
    if (this.embeddingOfInput === undefined) return undefined;
    return `its input holds token ids (it feeds Embedding layer '${this.embeddingOfInput}'), which have no gradient: attribute in embedding space (layer-integrated-gradients on '${this.embeddingOfInput}') or use a perturbation method`;
  }

  /** Hook points: every layer call, in execution order. */
  get hookNames(): readonly string[] {
    return this.layers.names;
  }

  hookShape(name: string): readonly (number | null)[] {
    return this.layers.node(name, 'hookShape').shape;
  }

  hookClass(name: string): string {
    return this.layers.node(name, 'hookClass').layer.getClassName();
  }

  /** Synchronous forward pass (for use inside `tf.grad`); `others` feeds the other inputs by name. */
  apply(x: tf.Tensor, others: Readonly<Record<string, tf.Tensor>> = {}): tf.Tensor {
    return onGuardedBackend(() => this.evaluate(this.self, x, others));
  }

  forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
    return this.forwardOf(this.self, x, ctx);
  }

  async gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    if (this.embeddingOfInput !== undefined) {
      throw new CapabilityError(
        `Model '${this.name}' takes token ids (its input feeds Embedding layer '${this.embeddingOfInput}'): ids have no gradient. Attribute in embedding space (layer-integrated-gradients on '${this.embeddingOfInput}') or use a perturbation method (feature-ablation, kernel-shap, lime)`,
        { model: this.name, layer: this.embeddingOfInput },
      );
    }
    return this.gradientsOf(this.self, x, objective, ctx);
  }

  async run(x: tf.Tensor, opts: RunOptions = {}): Promise<tf.Tensor> {
    const fn = 'run';
    const hooks = this.hookMap(opts.hooks, fn);
    const patches = this.patchMap(opts.patches, x.shape[0]!, fn);
    const others = await this.fixedInputs(this.self, opts.ctx, new Set(patches.keys()));
    try {
      return onGuardedBackend(() => tf.tidy(() => this.evaluate(this.self, x, others, { hooks, patches })));
    } finally {
      tf.dispose(Object.values(others));
    }
  }

  async runWithCache(x: tf.Tensor, names?: readonly string[], ctx?: CallContext): Promise<{ readonly output: tf.Tensor; readonly cache: ActivationCache }> {
    const keep = names ?? this.hookNames;
    const ids = keep.map((n) => this.layers.node(n, 'runWithCache').outputs[0]!);
    const others = await this.fixedInputs(this.self, ctx);
    try {
      const outs = onGuardedBackend(() =>
        tf.tidy(() => {
          const values = this.inputValues(this.self, x, others);
          return this.layers.execute(values, { want: [this.self.exit, ...ids] }).map((t) => t.clone());
        }),
      );
      const [output, ...acts] = outs;
      return { output: output!, cache: new ActivationCache(new Map(keep.map((n, i) => [n, acts[i]!]))) };
    } finally {
      tf.dispose(Object.values(others));
    }
  }

  async activation(x: tf.Tensor, name: string, ctx?: CallContext): Promise<tf.Tensor> {
    return this.upTo(name).forward(x, ctx);
  }

  atLayer(name: string, opts: { readonly rule?: ActivationRule } = {}): DifferentiableModel {
    const node = this.layers.node(name, 'atLayer');
    return new GraphView(this, { ...this.self, name: `${this.name}@${name}`, entry: name, inputShape: node.shape, ...(opts.rule ? { rule: opts.rule } : {}) });
  }

  upTo(name: string): DifferentiableModel {
    const node = this.layers.node(name, 'upTo');
    return new GraphView(this, { ...this.self, name: `${this.name}→${name}`, exit: node.outputs[0]!, outputShape: node.shape });
  }

  withRules(rules: RuleSet): DifferentiableModel {
    return new GraphView(this, { ...this.self, ...(rules.activation ? { rule: rules.activation } : {}), ...(rules.layer ? { layerRule: rules.layer } : {}) });
  }

  describeLayers(): readonly LayerInfo[] {
    return this.layers.describe();
  }

  dispose(): void {
    this.model.dispose();
  }

  /** @internal forward of a view */
  async forwardOf(spec: ViewSpec, x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
    const others = await this.fixedInputs(spec, ctx);
    try {
      return onGuardedBackend(() => tf.tidy(() => this.evaluate(spec, x, others)));
    } finally {
      tf.dispose(Object.values(others));
    }
  }

  /** @internal gradient of a view */
  async gradientsOf(spec: ViewSpec, x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    const others = await this.fixedInputs(spec, ctx);
    try {
      return onGuardedBackend(() => gradientOf((v) => this.evaluate(spec, v, others), x, objective));
    } finally {
      tf.dispose(Object.values(others));
    }
  }

  /** One synchronous evaluation of a view: `x` enters at the view's entry. */
  private evaluate(
    spec: ViewSpec,
    x: tf.Tensor,
    others: Readonly<Record<string, tf.Tensor>>,
    extra: { hooks?: ReadonlyMap<string, HookFn>; patches?: ReadonlyMap<string, tf.Tensor> } = {},
  ): tf.Tensor {
    checkShape(x, spec.inputShape, spec.name);
    const values = this.inputValues(spec, x, others);
    const patches = new Map(extra.patches ?? []);
    if (spec.entry !== undefined) patches.set(spec.entry, x);
    return this.layers.execute(values, {
      want: [spec.exit],
      patches,
      ...(extra.hooks ? { hooks: extra.hooks } : {}),
      ...(spec.rule ? { rule: spec.rule } : {}),
      ...(spec.layerRule ? { layerRule: spec.layerRule } : {}),
    })[0]!;
  }

  /** Model inputs by tensor id: `x` at the attributed input (plain views), the others by name. */
  private inputValues(spec: ViewSpec, x: tf.Tensor, others: Readonly<Record<string, tf.Tensor>>): Map<number, tf.Tensor> {
    const values = new Map<number, tf.Tensor>();
    this.inputIds.forEach((id, i) => {
      if (spec.entry === undefined && i === this.attributed) values.set(id, x);
      else {
        const v = others[this.modelInputNames[i]!];
        if (v) values.set(id, v);
      }
    });
    return values;
  }

  /**
   * The inputs a view needs besides `x`, gathered for the call's rows. A layer view reads the
   * attributed input too when a branch bypasses the layer. The caller owns the returned tensors.
   */
  private async fixedInputs(spec: ViewSpec, ctx: CallContext | undefined, patched: ReadonlySet<string> = new Set()): Promise<Record<string, tf.Tensor>> {
    const cut = new Set(patched);
    if (spec.entry !== undefined) cut.add(spec.entry);
    const needed = this.layers.inputsNeeded([spec.exit], cut);
    const names = this.inputIds
      .map((id, i) => (needed.has(id) && (spec.entry !== undefined || i !== this.attributed) ? this.modelInputNames[i]! : undefined))
      .filter((n): n is string => n !== undefined);
    if (names.length === 0) return {};
    return gatherInputs(ctx, names, this.name);
  }

  private hookMap(hooks: RunOptions['hooks'], fn: string): Map<string, HookFn> {
    const map = new Map<string, HookFn>();
    for (const [name, h] of Object.entries(hooks ?? {})) {
      this.layers.node(name, fn);
      if (typeof h !== 'function') throw new InvalidArgumentError(`Hook '${name}' passed to '${fn}' must be a function (activation) => tensor | void`, { arg: 'hooks', fn, hook: name });
      map.set(name, h);
    }
    return map;
  }

  private patchMap(patches: RunOptions['patches'], n: number, fn: string): Map<string, tf.Tensor> {
    const map = new Map<string, tf.Tensor>();
    for (const [name, t] of Object.entries(patches ?? {})) {
      const node = this.layers.node(name, fn);
      if (!(t instanceof tf.Tensor) || t.isDisposed) throw new InvalidArgumentError(`Patch '${name}' passed to '${fn}' must be a live tf.Tensor`, { arg: 'patches', fn, hook: name });
      checkShape(t, [n, ...node.shape.slice(1)], `${fn}: patch '${name}'`);
      map.set(name, t);
    }
    return map;
  }
}

/** A view of a layers model (from a layer, up to a layer, or with an activation rule). Owns nothing. */
class GraphView implements DifferentiableModel {
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
  readonly capabilities = { gradients: true, hooks: false } as const;
  readonly engine = 'tfjs' as const;
  readonly inputNames: readonly string[];

  constructor(
    private readonly owner: LayersModelAdapter,
    private readonly spec: ViewSpec,
  ) {
    this.name = spec.name;
    this.inputShape = spec.inputShape;
    this.outputShape = spec.outputShape;
    this.inputNames = spec.entry === undefined ? owner.inputNames : [spec.entry, ...owner.inputNames];
  }

  forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
    return this.owner.forwardOf(this.spec, x, ctx);
  }

  gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    if (this.spec.entry === undefined && this.owner.embeddingOfInput !== undefined) return this.owner.gradients(x, objective, ctx);
    return this.owner.gradientsOf(this.spec, x, objective, ctx);
  }

  dispose(): void {
    // the view borrows the owner's model
  }
}

function checkShape(x: tf.Tensor, want: readonly (number | null)[], name: string): void {
  const ok = x.rank === want.length && want.every((d, i) => d === null || d === x.shape[i]);
  if (!ok) {
    throw new ShapeMismatchError(`Argument 'x' passed to model '${name}' must have shape [${want.map((d) => d ?? '*').join(', ')}], got [${x.shape.join(', ')}]`, {
      arg: 'x',
      model: name,
      expected: want,
      actual: x.shape,
    });
  }
}

/**
 * A differentiable, hookable adapter for a TF.js layers model.
 * @example
 * ```ts
 * const model = fromLayersModel(await tf.loadLayersModel(handler));
 * const { output, cache } = await model.runWithCache(x, ['conv2']);
 * ```
 */
export const fromLayersModel = (model: LayersModel, opts: LayersModelOptions = {}): LayersModelAdapter => new LayersModelAdapter(model, opts);
