import * as tf from '@tensorflow/tfjs-core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError, CapabilityError, UnknownHookError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import {
  gatherInputs,
  isDifferentiable,
  type ActivationCacheLike,
  type CallContext,
  type DifferentiableModel,
  type HookedModel,
  type HostTensor,
  type LayerInfo,
  type ModelAdapter,
  type RunOptions,
} from '../model.js';
import { ActivationCache } from '../activation-cache.js';
import { graphOf, type ModelProto } from './graph/proto.js';
import { placeRows } from './batch-axes.js';
import { cutAt, withOutputs } from './graph/surgery.js';

/** Creates adapters for rewired copies of the model (the `fromOnnx` options `inputName` / `outputName`). */
export type OnnxVariantFactory = (opts: { readonly inputName?: string; readonly outputName?: string }) => Promise<ModelAdapter>;

/** Creates a raw session for a model proto. */
export type OnnxSessionFactory = (proto: ModelProto) => Promise<InferenceSession>;

/** Ops whose outputs are not hook points. */
const NOT_HOOKS = new Set(['Constant', 'Shape', 'ConstantOfShape']);

/**
 * An ONNX model whose intermediate tensors are hook points, by graph surgery: reading a tensor adds
 * it to the graph's outputs; replacing it (a patch) cuts the graph there and feeds it; a layer view
 * (`atLayer`) is the graph cut at the tensor, differentiable through the compiled backward graph. The
 * hook names are the tensor names of the ONNX graph (e.g. `/m/relu2/Relu_output_0`), in node order;
 * PyTorch exports keep channels first (NCHW) inside. Sessions for each variant are created on first
 * use and kept. Function hooks cost one extra run; activation/layer rules (guided backprop, DeepLIFT,
 * LRP) are not available on ONNX models.
 */
export class OnnxHookedModel implements DifferentiableModel, HookedModel {
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape?: readonly (number | null)[];
  readonly inputNames: readonly string[];
  readonly gradientsUnavailable?: string;
  /** The file's `metadata_props`, producer and description (see `ModelAdapter.metadata`). */
  readonly metadata?: Readonly<Record<string, string>>;
  private readonly variants = new Map<string, Promise<ModelAdapter>>();
  private readonly sessions = new Map<string, Promise<InferenceSession>>();
  private readonly nodes: readonly { readonly name: string; readonly op: string; readonly inputs: readonly string[] }[];

  constructor(
    private readonly inner: ModelAdapter,
    private readonly proto: ModelProto,
    private readonly shapes: ReadonlyMap<string, readonly (number | null)[]>,
    private readonly variant: OnnxVariantFactory,
    private readonly session: OnnxSessionFactory,
    private readonly ort: { readonly Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor },
    /** Compile time of this model, its rewired copies and its sessions (milliseconds, cumulative). */
    private readonly clock: { readonly ms: number } = { ms: 0 },
    layers: { readonly layers?: ReadonlyMap<string, string>; readonly embeddingOfInput?: string; readonly embeddingRows?: number; readonly metadata?: Readonly<Record<string, string>> } = {},
  ) {
    this.name = inner.name;
    this.inputShape = inner.inputShape;
    if (inner.outputShape) this.outputShape = inner.outputShape;
    this.inputNames = inner.inputNames ?? ['input'];
    const why = (inner as { gradientsUnavailable?: string }).gradientsUnavailable;
    if (why) this.gradientsUnavailable = why;
    const only = layers.layers;
    this.nodes = only ? hookNodes(proto).filter((n) => only.has(n.name)).map((n) => ({ ...n, op: only.get(n.name)! })) : hookNodes(proto);
    const metadata = { ...layers.metadata, ...onnxMetadata(proto) };
    if (Object.keys(metadata).length > 0) this.metadata = metadata;
    if (layers.embeddingOfInput !== undefined) this.embeddingOfInput = layers.embeddingOfInput;
    if (layers.embeddingRows !== undefined) this.embeddingRows = layers.embeddingRows;
  }

  /** The Embedding layer the token-id input feeds (exported TF.js text models), the default layer of layer-integrated-gradients. */
  readonly embeddingOfInput?: string;
  /** Rows of that Embedding layer's table, when known. */
  readonly embeddingRows?: number;

  readonly engine = 'onnx' as const;

  /** Milliseconds spent compiling backward graphs and opening sessions for calls so far. */
  get compileMs(): number {
    return this.clock.ms;
  }

  get capabilities(): { readonly gradients: true; readonly hooks: true } {
    return { gradients: isDifferentiable(this.inner) as true, hooks: true };
  }

  /** Rows per session run for host batches, once chosen (`sessionRows: 'auto'`). */
  get sessionRows(): number | undefined {
    return (this.inner as { sessionRows?: number }).sessionRows;
  }

  get hookNames(): readonly string[] {
    return this.nodes.map((n) => n.name);
  }

  hookShape(name: string): readonly (number | null)[] {
    this.node(name, 'hookShape');
    const s = this.shapes.get(name);
    if (!s) throw new CapabilityError(`The shape of tensor '${name}' of ONNX model '${this.name}' is unknown (its input has dynamic dims, so no probe run was made)`, { model: this.name, layer: name });
    return s;
  }

  hookClass(name: string): string {
    return this.node(name, 'hookClass').op;
  }

  forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
    return this.inner.forward(x, ctx);
  }

  forwardHost(data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<HostTensor> {
    if (!this.inner.forwardHost) return Promise.reject(new CapabilityError(`Model '${this.name}' has no host forward pass`, { model: this.name }));
    return this.inner.forwardHost(data, shape, ctx);
  }

  gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    if (!isDifferentiable(this.inner)) {
      return Promise.reject(new CapabilityError(`Model '${this.name}' is forward-only${this.gradientsUnavailable ? ` (${this.gradientsUnavailable})` : ''}`, { model: this.name }));
    }
    return this.inner.gradients(x, objective, ctx);
  }

  gradientsHost(data: Float32Array, shape: readonly number[], objective: Objective, ctx?: CallContext): Promise<HostTensor> {
    if (!isDifferentiable(this.inner) || !this.inner.gradientsHost) {
      return Promise.reject(new CapabilityError(`Model '${this.name}' has no host gradients${this.gradientsUnavailable ? ` (${this.gradientsUnavailable})` : ''}`, { model: this.name }));
    }
    return this.inner.gradientsHost(data, shape, objective, ctx);
  }

  async activation(x: tf.Tensor, name: string, ctx?: CallContext): Promise<tf.Tensor> {
    this.node(name, 'activation');
    return (await this.variantFor({ outputName: name })).forward(x, ctx);
  }

  async runWithCache(x: tf.Tensor, names?: readonly string[], ctx?: CallContext): Promise<{ readonly output: tf.Tensor; readonly cache: ActivationCacheLike }> {
    const keep = names ?? this.hookNames;
    for (const n of keep) this.node(n, 'runWithCache');
    const out = this.outputName();
    const outs = await this.runRaw(`cache:${keep.join('|')}`, () => withOutputs(this.proto, [out, ...keep]), { [this.inputNames[0]!]: x }, [out, ...keep], ctx);
    const [output, ...acts] = outs;
    return { output: output!, cache: new ActivationCache(new Map(keep.map((n, i) => [n, acts[i]!]))) };
  }

  async run(x: tf.Tensor, opts: RunOptions = {}): Promise<tf.Tensor> {
    const patches: Record<string, tf.Tensor> = { ...(opts.patches ?? {}) };
    for (const name of Object.keys(patches)) this.node(name, 'run');
    const made: tf.Tensor[] = [];
    try {
      // function hooks: read the tensor (with the patches so far), apply the hook, feed the result
      for (const node of this.nodes) {
        const hook = opts.hooks?.[node.name];
        if (!hook || patches[node.name]) continue;
        const a = await this.runPatched(x, patches, node.name, opts.ctx);
        const r = tf.tidy(() => hook(a, { name: node.name }) ?? tf.clone(a));
        a.dispose();
        made.push(r);
        patches[node.name] = r;
      }
      for (const name of Object.keys(opts.hooks ?? {})) this.node(name, 'run');
      return await this.runPatched(x, patches, this.outputName(), opts.ctx);
    } finally {
      tf.dispose(made);
    }
  }

  atLayer(name: string, opts: { readonly rule?: unknown } = {}): DifferentiableModel {
    if (opts.rule) this.noRules();
    this.node(name, 'atLayer');
    return this.lazyView(`${this.name}@${name}`, this.hookShape(name), this.outputShape, { inputName: name }, [name, ...this.inputNames]);
  }

  upTo(name: string): DifferentiableModel {
    this.node(name, 'upTo');
    return this.lazyView(`${this.name}→${name}`, this.inputShape, this.hookShape(name), { outputName: name }, this.inputNames);
  }

  withRules(): DifferentiableModel {
    return this.noRules();
  }

  describeLayers(): readonly LayerInfo[] {
    const producer = new Map(this.nodes.map((n) => [n.name, n]));
    return this.nodes.map((n) => ({
      name: n.name,
      className: n.op,
      inputs: n.inputs.filter((i) => producer.has(i)),
      consumers: this.nodes.filter((m) => m.inputs.includes(n.name)).map((m) => m.name),
      readsInput: n.inputs.some((i) => this.inputNames.includes(i)),
      activation: 'linear',
      config: {},
      params: () => ({}),
    }));
  }

  dispose(): void {
    this.inner.dispose();
    for (const v of this.variants.values()) void v.then((m) => m.dispose()).catch(() => undefined);
    for (const s of this.sessions.values()) void s.then((m) => m.release()).catch(() => undefined);
  }

  /** A view whose model (a rewired copy) is created on first use. */
  private lazyView(name: string, inputShape: readonly (number | null)[], outputShape: readonly (number | null)[] | undefined, rewire: { inputName?: string; outputName?: string }, inputNames: readonly string[]): DifferentiableModel {
    const get = () => this.variantFor(rewire);
    const differentiable = async (): Promise<DifferentiableModel> => {
      const m = await get();
      if (!isDifferentiable(m)) {
        const why = (m as { gradientsUnavailable?: string }).gradientsUnavailable;
        throw new CapabilityError(`'${name}' cannot be differentiated${why ? `: ${why}` : ''}`, { model: name });
      }
      return m;
    };
    const clock = this.clock;
    return {
      name,
      engine: 'onnx',
      get compileMs() {
        return clock.ms;
      },
      inputShape,
      ...(outputShape ? { outputShape } : {}),
      inputNames,
      capabilities: { gradients: true, hooks: false },
      forward: async (x, ctx) => (await get()).forward(x, ctx),
      gradients: async (x, objective, ctx) => (await differentiable()).gradients(x, objective, ctx),
      // host arrays straight to ONNX Runtime (see DifferentiableModel.gradientsHost)
      gradientsHost: async (data, shape, objective, ctx) => {
        const m = await differentiable();
        if (m.gradientsHost) return m.gradientsHost(data, shape, objective, ctx);
        const x = tf.tensor(data, [...shape]);
        try {
          const g = await m.gradients(x, objective, ctx);
          try {
            return { data: (await g.data()) as Float32Array, shape: [...shape] };
          } finally {
            g.dispose();
          }
        } finally {
          x.dispose();
        }
      },
      forwardHost: async (data, shape, ctx) => {
        const m = await get();
        if (m.forwardHost) return m.forwardHost(data, shape, ctx);
        const x = tf.tensor(data, [...shape]);
        try {
          const y = await m.forward(x, ctx);
          try {
            return { data: (await y.data()) as Float32Array, shape: y.shape };
          } finally {
            y.dispose();
          }
        } finally {
          x.dispose();
        }
      },
      dispose: () => undefined,
    };
  }

  private variantFor(rewire: { inputName?: string; outputName?: string }): Promise<ModelAdapter> {
    const key = `${rewire.inputName ?? ''}→${rewire.outputName ?? ''}`;
    let v = this.variants.get(key);
    if (!v) {
      v = this.variant(rewire);
      v.catch(() => this.variants.delete(key));
      this.variants.set(key, v);
    }
    return v;
  }

  /** Runs the graph with `patches` fed in place of their tensors and returns `want`. */
  private async runPatched(x: tf.Tensor, patches: Record<string, tf.Tensor>, want: string, ctx?: CallContext): Promise<tf.Tensor> {
    const names = Object.keys(patches).filter((n) => n !== want);
    const build = () => names.reduce((m, n) => cutAt(m, n), withOutputs(this.proto, [want]));
    const feeds: Record<string, tf.Tensor> = { [this.inputNames[0]!]: x };
    for (const n of names) feeds[n] = patches[n]!;
    const [out] = await this.runRaw(`patch:${names.join('|')}→${want}`, build, feeds, [want], ctx);
    return out!;
  }

  /** One run of a rewired graph on named feeds (fixed extra inputs from `ctx`); only the feeds the graph takes are passed. */
  private async runRaw(key: string, build: () => ModelProto, feeds: Record<string, tf.Tensor>, outputs: string[], ctx?: CallContext): Promise<tf.Tensor[]> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.session(build());
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    const session = await s;
    const ort = this.ort;
    const n = Object.values(feeds)[0]!.shape[0]!;
    const layout = this.inner as { readonly fixedBatch?: boolean; readonly batchAxes?: ReadonlyMap<string, number | null> };
    if (layout.fixedBatch && n > 1) return this.runRows(key, build, feeds, outputs, n, ctx);
    const others = session.inputNames.filter((name) => !(name in feeds));
    const extra = others.length > 0 ? await gatherInputs(ctx ?? { rows: Array.from({ length: n }, (_, i) => i) }, others, this.name) : {};
    const ortFeeds: Record<string, OrtTensor> = {};
    try {
      for (const [name, t] of Object.entries({ ...feeds, ...extra })) {
        if (!session.inputNames.includes(name)) continue;
        const meta = ((session as unknown as { inputMetadata?: readonly { name: string; type?: string }[] }).inputMetadata ?? []).find((m) => m.name === name);
        // extra inputs go on their own batch axis (see OnnxModelOptions.inputBatchAxes)
        const { data: d, shape } = name in extra ? placeRows(Float32Array.from(await t.data()), t.shape, layout.batchAxes?.get(name) ?? 0, name) : { data: Float32Array.from(await t.data()), shape: t.shape };
        ortFeeds[name] = meta?.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(d, (v) => BigInt(Math.round(v))), shape) : new ort.Tensor('float32', d, shape);
      }
    } finally {
      tf.dispose(Object.values(extra));
    }
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await session.run(ortFeeds, outputs);
    } catch (e) {
      throw new BackendError(`ONNX Runtime failed to run a hooked copy of model '${this.name}': ${(e as Error).message}`, { model: this.name }, e);
    }
    return outputs.map((o) => {
      const t = result[o] as OrtTensor;
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
      return tf.tensor(data, [...t.dims]);
    });
  }

  /**
   * `runRaw` one row at a time, for a model exported with a batch fixed at 1: the outputs are joined
   * along axis 0, so each must keep one row there (`capability_missing` naming the tensor otherwise).
   */
  private async runRows(key: string, build: () => ModelProto, feeds: Record<string, tf.Tensor>, outputs: string[], n: number, ctx?: CallContext): Promise<tf.Tensor[]> {
    const parts: tf.Tensor[][] = [];
    try {
      for (let r = 0; r < n; r++) {
        const row = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, tf.slice(t, r, 1)]));
        try {
          parts.push(await this.runRaw(key, build, row, outputs, { rows: [ctx?.rows[r] ?? r], ...(ctx?.inputs ? { inputs: ctx.inputs } : {}) }));
        } finally {
          tf.dispose(Object.values(row));
        }
        const wide = outputs.find((_, i) => parts[r]![i]!.shape[0] !== 1);
        if (wide !== undefined) {
          throw new CapabilityError(`Tensor '${wide}' of model '${this.name}' (batch fixed at 1) does not keep the row on axis 0, so rows run one at a time cannot be joined: attribute one row per call`, { model: this.name, tensor: wide });
        }
      }
      return outputs.map((_, i) => tf.concat(parts.map((p) => p[i]!)));
    } finally {
      tf.dispose(parts.flat());
    }
  }

  private outputName(): string {
    return (this.inner as { outputName?: string }).outputName ?? graphOf(this.proto).output[0]!.name ?? 'output';
  }

  private noRules(): never {
    throw new CapabilityError(
      `Model '${this.name}' is an ONNX model: activation and layer rules (guided backprop, deconvolution, DeepLIFT, LRP) need a TF.js layers model for now; the hook, layer, neuron and CAM methods work`,
      { model: this.name },
    );
  }

  private node(name: string, fn: string): { name: string; op: string; inputs: readonly string[] } {
    const n = this.nodes.find((m) => m.name === name);
    if (!n) {
      const names = this.hookNames;
      const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length} in all)` : names.join(', ');
      throw new UnknownHookError(`Argument 'layer' passed to '${fn}' names no tensor of ONNX model '${this.name}': '${name}'; its tensors are ${shown}`, { arg: 'layer', fn, layer: name, layers: names });
    }
    return n;
  }
}

/** The hook points of a graph: every tensor a computing node produces, in node order. */
export function hookNodes(proto: ModelProto): { readonly name: string; readonly op: string; readonly inputs: readonly string[] }[] {
  return graphOf(proto)
    .node.filter((n) => !NOT_HOOKS.has(n.opType ?? ''))
    .flatMap((n) => (n.output ?? []).map((o) => ({ name: o, op: n.opType ?? '', inputs: n.input ?? [] })));
}

/**
 * Shapes of every hook tensor from one run on a zero row (null for the batch); empty when the input
 * has dynamic dims or the probe cannot run (e.g. integer intermediate tensors).
 */
export async function probeShapes(proto: ModelProto, names: readonly string[], inputShape: readonly (number | null)[], inputName: string, session: OnnxSessionFactory, ort: { readonly Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor }): Promise<Map<string, readonly (number | null)[]>> {
  const shapes = new Map<string, readonly (number | null)[]>();
  if (names.length === 0 || inputShape.slice(1).some((d) => d === null)) return shapes;
  try {
    const s = await session(withOutputs(proto, names));
    try {
      const dims = [1, ...(inputShape.slice(1) as number[])];
      const size = dims.reduce((a, b) => a * b, 1);
      const meta = ((s as unknown as { inputMetadata?: readonly { name: string; type?: string }[] }).inputMetadata ?? []).find((m) => m.name === inputName);
      if (s.inputNames.length !== 1) return shapes; // other inputs would need values
      const feed = meta?.type === 'int64' ? new ort.Tensor('int64', new BigInt64Array(size), dims) : new ort.Tensor('float32', new Float32Array(size), dims);
      const out = await s.run({ [inputName]: feed }, [...names]);
      for (const n of names) {
        const t = out[n] as OrtTensor | undefined;
        if (t) shapes.set(n, [null, ...t.dims.slice(1)]);
      }
    } finally {
      void s.release();
    }
  } catch {
    // shapes stay unknown: hookShape says so
  }
  return shapes;
}

/** An ONNX file's `metadata_props` (at most 1 MiB a value), `producer` and `description`. */
function onnxMetadata(proto: ModelProto): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of proto.metadataProps ?? []) if (p.key && typeof p.value === 'string' && p.value.length <= 1 << 20) out[p.key] = p.value;
  const producer = [proto.producerName, proto.producerVersion].filter((v) => v).join(' ');
  if (producer && out['producer'] === undefined) out['producer'] = producer;
  const description = proto.docString || proto.graph?.docString;
  if (description && out['description'] === undefined) out['description'] = description.slice(0, 1 << 20);
  return out;
}
