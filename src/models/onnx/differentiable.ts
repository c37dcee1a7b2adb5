import * as tf from '@tensorflow/tfjs-core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError, ModelLoadError, ShapeMismatchError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import type { CallContext, DifferentiableModel, HostTensor, ModelAdapter } from '../model.js';
import { COTANGENT, compileVjp, decodeModel, encodeModel, gradName } from './grad/compile.js';
import { probeAllShapes } from './grad/probe.js';
import { RECURRENT_OPS, unrollRecurrent } from './rewrite/unroll-rnn.js';
import { prepareForGradients } from './grad/prepare.js';
import { packEntry, sha256Hex, unpackEntry } from './vjp-entry.js';
import { freeFixedBatch } from './free-batch.js';
import { simplifyForGradients } from './rewrite/simplify.js';
import { graphOf, type ModelProto } from './graph/proto.js';
import { cutAt, withOutputs } from './graph/surgery.js';
import { fromOnnxSession, type OnnxForwardAdapter, type OnnxModelOptions, type OrtModule } from './session.js';
import { hookNodes, OnnxHookedModel, probeShapes } from './hooked.js';
import { gradOrRelease } from '../tfjs/tape.js';

/** An onnxruntime module that can also create sessions (node or web). */
export interface OrtEngine extends OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
}

/**
 * Compiled backward graphs kept across processes (see compile-cache.ts for the on-disk store). Values
 * read back are untrusted: the adapter checks them and recompiles on any doubt.
 */
export interface CompiledGraphStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
}

/** Time spent compiling, shared by an adapter and the rewired copies and sessions it creates. */
interface CompileClock {
  ms: number;
}

export interface OnnxAdapterOptions extends OnnxModelOptions {
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /** ORT runs convolutions in its blocked NCHWc layout (onnxruntime-node on x86): see compileVjp. */
  readonly blockedLayout?: boolean;
  /** Where compiled backward graphs are looked up before compiling, and stored after. */
  readonly graphStore?: CompiledGraphStore;
  /**
   * Options of a second session on the same backward graph, for gradient runs of at most
   * `SMALL_RUN_ROWS` rows (opened on first use). onnxruntime-node passes one intra-op thread: on
   * 2 cores, waking a second thread for every small operator costs more than it saves (the image
   * CNN's backward at 8 rows: 1.04–1.12 ms on one thread, 1.32–1.56 ms on two; equal at 32 rows).
   */
  readonly smallRunSessionOptions?: InferenceSession.SessionOptions;
  /** Metadata of the model this one was made from (a TF.js model exported to ONNX): see `ModelAdapter.metadata`. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** @internal the clock of the model this one is a rewired copy of */
  readonly clock?: CompileClock;
}

/** Gradient runs of at most this many rows use the small-run session when there is one. */
const SMALL_RUN_ROWS = 16;

/** A compiled backward graph: its session, the output's dims, and the small-run session once opened. */
interface CompiledVjp {
  readonly session: InferenceSession;
  readonly outputDims: readonly number[];
  readonly graph: Uint8Array;
  small?: Promise<InferenceSession> | undefined;
}

/** Version of the cached-graph format and of the key's recipe. */
const STORE_FORMAT = 'attrib-vjp-2';

/**
 * An ONNX model on ONNX Runtime. Forward passes run the model as is. When every op between the
 * attributed input and the output has a gradient rule (and the input is float), the adapter is
 * differentiable: on the first `gradients` call it runs the graph once with every intermediate
 * tensor exposed (to learn shapes), compiles a vector–Jacobian graph (see grad/compile.ts), opens a
 * second session on it, and reuses that session afterwards. Otherwise it is forward-only and
 * `gradientsUnavailable` says why.
 */
export async function onnxAdapter(original: Uint8Array, ort: OrtEngine, opts: OnnxAdapterOptions = {}): Promise<ModelAdapter & { readonly gradientsUnavailable?: string }> {
  const clock: CompileClock = opts.clock ?? { ms: 0 };
  // a batch fixed at 1 made free when the graph allows (free-batch.ts); otherwise rows run one at a time
  const source = (await freeFixedBatch(original, ort, opts.sessionOptions)) ?? original;
  const { adapter: inner, proto } = await onnxAdapterCore(source, ort, { ...opts, clock });
  if (!proto) return inner;
  // hook points by graph surgery (see hooked.ts): rewired copies share this loader, without hooks of their own
  const session = (p: ModelProto) => ort.InferenceSession.create(encodeModel(p), opts.sessionOptions);
  const shapes = await probeShapes(proto, hookNodes(proto).map((n) => n.name), inner.inputShape, inner.inputNames?.[0] ?? 'input', session, ort as never);
  for (const [name, shape] of opts.layerShapes ?? []) if (!shapes.has(name)) shapes.set(name, shape);
  // sessions and rewired copies made during calls count as compile time
  const timed = async <T>(work: Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work;
    } finally {
      clock.ms += performance.now() - t0;
    }
  };
  const variant = async (rw: { inputName?: string; outputName?: string }) => timed(onnxAdapterCore(source, ort, { ...opts, ...rw, clock })).then((v) => v.adapter);
  return new OnnxHookedModel(inner, proto, shapes, variant, (p) => timed(session(p)), ort as never, clock, opts);
}

/**
 * The ONNX adapter without hook points (differentiable when every op has a rule), and the decoded
 * (rewired) graph it runs, undefined when the protobuf cannot be decoded: decoded once per load.
 */
async function onnxAdapterCore(original: Uint8Array, ort: OrtEngine, opts: OnnxAdapterOptions = {}): Promise<{ adapter: ModelAdapter & { readonly gradientsUnavailable?: string }; proto?: ModelProto }> {
  const bytes = rewire(original, opts);
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, opts.sessionOptions);
  } catch (e) {
    throw new ModelLoadError(`Cannot load ONNX model ${opts.name ?? ''}: ${(e as Error).message.split('\n')[0]}`, { model: opts.name ?? 'bytes' }, e);
  }
  const base = Object.assign(fromOnnxSession(session, ort, opts), { engine: 'onnx' as const });
  let proto: ModelProto;
  try {
    proto = decodeModel(bytes);
  } catch (e) {
    return { adapter: Object.assign(base, { gradientsUnavailable: `the ONNX protobuf could not be decoded (${(e as Error).message})` }) };
  }
  const input = base.inputNames[0]!;
  const prepared = base.inputType !== 'float32' ? { why: `input '${input}' holds ${base.inputType} values (token ids have no gradient: differentiate an embedding output instead)` } : prepareForGradients(proto, input, base.outputName);
  if (!prepared.model) return { adapter: Object.assign(base, { gradientsUnavailable: prepared.why }), proto };
  return { adapter: new OnnxGradientModel(base, prepared.model, bytes, ort, opts), proto };
}

/** Backward graphs kept per model (one per distinct input row shape). */
const MAX_VJP_SHAPES = 8;

class OnnxGradientModel implements DifferentiableModel {
  readonly capabilities = { gradients: true, hooks: false } as const;
  readonly engine = 'onnx' as const;
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape?: readonly (number | null)[];
  readonly inputNames: readonly string[];
  /**
   * Compiled VJP sessions by the input's per-row shape: the backward graph bakes in shapes from its
   * probe (slice pads, one-hot depths, output paddings), so a model with dynamic dims (e.g. sequence
   * length) gets one graph per shape it meets; the oldest is released beyond `MAX_VJP_SHAPES`.
   */
  private readonly vjps = new Map<string, Promise<CompiledVjp>>();
  /** The graph the backward is compiled from (see rewrite/simplify.ts): rewritten once, whatever the shape. */
  private prepared?: ModelProto;
  /** SHA-256 of the model's bytes (hex), for the graph store's keys. */
  private modelHash?: Promise<string>;
  private readonly clock: CompileClock;

  constructor(
    private readonly base: OnnxForwardAdapter,
    private readonly proto: ModelProto,
    private readonly bytes: Uint8Array,
    private readonly ort: OrtEngine,
    private readonly opts: OnnxAdapterOptions,
  ) {
    this.clock = opts.clock ?? { ms: 0 };
    this.name = base.name;
    this.inputShape = base.inputShape;
    if (base.outputShape) this.outputShape = base.outputShape;
    this.inputNames = base.inputNames;
  }

  forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
    return this.base.forward(x, ctx);
  }

  forwardHost(data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<HostTensor> {
    return this.base.forwardHost!(data, shape, ctx);
  }

  /** Rows per session run for host batches, once the tuner has chosen (see `OnnxModelOptions.sessionRows`). */
  get sessionRows(): number | undefined {
    return this.base.sessionRows;
  }

  /** One row per session run (the model's batch is fixed at 1); see `OnnxForwardAdapter.fixedBatch`. */
  get fixedBatch(): boolean {
    return this.base.fixedBatch;
  }

  /** The other inputs' batch axes (see `OnnxModelOptions.inputBatchAxes`). */
  get batchAxes(): ReadonlyMap<string, number | null> {
    return this.base.batchAxes;
  }

  /** Milliseconds spent compiling backward graphs and opening their sessions so far. */
  get compileMs(): number {
    return this.clock.ms;
  }

  async gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    const g = await this.gradientsHost((await x.data()) as Float32Array, x.shape, objective, ctx);
    return tf.tensor(g.data, x.shape);
  }

  async gradientsHost(data: Float32Array, shape: readonly number[], objective: Objective, ctx?: CallContext): Promise<HostTensor> {
    const n = shape[0]!;
    const per = data.length / n;
    const compiled = await this.compiledFor(data, shape, ctx);
    const { outputDims } = compiled;
    const session = (this.base.fixedBatch ? 1 : n) <= SMALL_RUN_ROWS && this.opts.smallRunSessionOptions ? await this.smallRunSession(compiled, this.opts.smallRunSessionOptions) : compiled.session;
    const outShape = [n, ...outputDims.slice(1)];
    const classes = outShape.slice(1).reduce((a, b) => a * b, 1);
    let cot: Float32Array;
    if (objective.targetIndices) {
      // index targets: a one-hot cotangent, forward and backward in one run
      cot = new Float32Array(n * classes);
      objective.targetIndices.forEach((t, i) => (cot[i * classes + t] = 1));
    } else {
      const out = await this.base.forwardHost!(data, shape, ctx);
      const y = tf.tensor(out.data, [...out.shape]);
      let g: tf.Tensor;
      try {
        g = gradOrRelease((o: tf.Tensor) => tf.sum(objective(o)), y);
      } finally {
        y.dispose();
      }
      cot = (await g.data()) as Float32Array;
      g.dispose();
    }
    // a model exported with a batch fixed at 1 runs its backward one row at a time
    const runs = this.base.fixedBatch ? n : 1;
    const rows = n / runs;
    const out = gradName(this.inputNames[0]!);
    let grad: Float32Array | undefined;
    for (let r = 0; r < runs; r++) {
      const sub = runs > 1 ? { rows: Array.from({ length: rows }, (_, k) => ctx?.rows[r * rows + k] ?? r * rows + k), ...(ctx?.inputs ? { inputs: ctx.inputs } : {}) } : ctx;
      const feeds = await this.base.buildHostFeeds(runs > 1 ? data.subarray(r * per, (r + 1) * per) : data, [rows, ...shape.slice(1)], sub);
      feeds[COTANGENT] = new this.ort.Tensor('float32', cot.subarray(r * rows * classes, (r + 1) * rows * classes), [rows, ...outShape.slice(1)]);
      let result: InferenceSession.OnnxValueMapType;
      try {
        result = await session.run(feeds, [out]);
      } catch (e) {
        throw new BackendError(`ONNX Runtime failed to run the gradient graph of '${this.name}': ${(e as Error).message}`, { model: this.name }, e);
      }
      const t = (result[out] as OrtTensor).data as Float32Array;
      // one run: ORT's output array is the result (no copy)
      if (runs === 1) return { data: t, shape: [...shape] };
      (grad ??= new Float32Array(data.length)).set(t, r * rows * per);
    }
    return { data: grad ?? new Float32Array(0), shape: [...shape] };
  }

  /** `compiled` for a host batch: the probe (on a compile) gets the batch's first row as a tensor. */
  private compiledFor(data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<CompiledVjp> {
    const known = this.vjps.get(shape.slice(1).join('x'));
    if (known) return known;
    const row = tf.tensor(data.subarray(0, data.length / shape[0]!), [1, ...shape.slice(1)]);
    return this.compiled(row, ctx).finally(() => row.dispose());
  }

  /**
   * Compiles the VJP graph once per row shape (shapes from one probe run with a batch of one row), or
   * takes it from the graph store; the time either takes is added to `compileMs`.
   */
  private compiled(x: tf.Tensor, ctx?: CallContext): Promise<CompiledVjp> {
    const key = x.shape.slice(1).join('x');
    const known = this.vjps.get(key);
    if (known) return known;
    const vjp = (async () => {
      const t0 = performance.now();
      try {
        const storeKey = this.opts.graphStore ? await this.storeKey(x, ctx).catch(() => undefined) : undefined;
        const stored = storeKey ? await this.fromStore(storeKey) : undefined;
        if (stored) return stored;
        const { graph, outputDims } = await this.compile(x, ctx);
        const session = await this.ort.InferenceSession.create(graph, this.opts.sessionOptions);
        if (storeKey) await this.opts.graphStore!.put(storeKey, packEntry(graph, outputDims)).catch(() => undefined);
        return { session, outputDims, graph };
      } finally {
        this.clock.ms += performance.now() - t0;
      }
    })();
    this.vjps.set(key, vjp);
    vjp.catch(() => this.vjps.delete(key));
    if (this.vjps.size > MAX_VJP_SHAPES) {
      const [oldest, session] = this.vjps.entries().next().value!;
      this.vjps.delete(oldest);
      void session.then(releaseVjp).catch(() => undefined);
    }
    return vjp;
  }

  /** The small-run session of a compiled graph, opened on first use (its time counts as compiling). */
  private smallRunSession(c: CompiledVjp, options: InferenceSession.SessionOptions): Promise<InferenceSession> {
    if (!c.small) {
      const t0 = performance.now();
      c.small = this.ort.InferenceSession.create(c.graph, options).finally(() => (this.clock.ms += performance.now() - t0));
      c.small.catch(() => (c.small = undefined));
    }
    return c.small;
  }

  /** The VJP graph (encoded) and the output's dims for a batch of one row. */
  private async compile(x: tf.Tensor, ctx?: CallContext): Promise<{ graph: Uint8Array; outputDims: readonly number[] }> {
    const input = this.inputNames[0]!;
    let prepared = (this.prepared ??= simplifyForGradients(this.proto).model);
    // probe feeds: the first row of x, once or twice (for the batch axes)
    const feeds = async (rows: 1 | 2) => {
      const row = tf.slice(x, 0, 1);
      const batch = rows === 1 ? row : tf.concat([row, row]);
      try {
        const r0 = ctx?.rows?.[0] ?? 0;
        return await this.base.buildFeeds(batch, { rows: new Array<number>(rows).fill(r0), ...(ctx?.inputs ? { inputs: ctx.inputs } : {}) });
      } finally {
        tf.dispose([row, batch]);
      }
    };
    const probe = (m: ModelProto) => probeAllShapes((b) => this.ort.InferenceSession.create(b), m, input, x.shape.slice(1), feeds, !this.base.fixedBatch);
    let probed: Awaited<ReturnType<typeof probe>>;
    try {
      probed = await probe(prepared);
    } catch (e) {
      // the model itself cannot run on this row shape: the input is wrong (exit 2), not the backend
      const row = tf.slice(x, 0, 1);
      const forward = await this.base
        .forward(row, { rows: [ctx?.rows?.[0] ?? 0], ...(ctx?.inputs ? { inputs: ctx.inputs } : {}) })
        .then(
          (y) => (y.dispose(), true),
          () => false,
        )
        .finally(() => row.dispose());
      if (!forward && e instanceof BackendError) throw new ShapeMismatchError(`Model '${this.name}' cannot run on an input row of shape [${x.shape.slice(1).join(', ')}]: ${e.message.replace(/^ONNX Runtime cannot run the model on an input row of shape \[[^\]]*\] \(needed to compile its gradients\): /, '')}`, { ...e.details, model: this.name });
      throw e;
    }
    if (graphOf(prepared).node.some((n) => RECURRENT_OPS.has(n.opType ?? ''))) {
      // LSTM/GRU/RNN unrolled over this row shape's sequence length, then probed again
      prepared = unrollRecurrent(prepared, probed.shapes);
      probed = await probe(prepared);
    }
    const { shapes, batchShapes } = probed;
    const vjp = compileVjp(prepared, input, this.base.outputName, shapes, {
      blockedLayout: this.opts.blockedLayout ?? false,
      fixedBatch: this.base.fixedBatch,
      ...(batchShapes ? { batchShapes } : {}),
    });
    return { graph: encodeModel(vjp), outputDims: shapes.get(this.base.outputName) ?? [1] };
  }

  /**
   * The store's key: the model's bytes, the attributed input and output, the input's row shape, the
   * other inputs' row shapes and batch axes (they shape the probe) and the layout the graph is compiled for.
   */
  private async storeKey(x: tf.Tensor, ctx?: CallContext): Promise<string> {
    this.modelHash ??= sha256Hex(this.bytes);
    const others = Object.entries(ctx?.inputs ?? {})
      .map(([n, t]) => `${n}:${t.shape.slice(1).join('x')}`)
      .sort();
    const axes = [...this.base.batchAxes].map(([n, a]) => `${n}:${a ?? 'none'}`).join(',');
    const recipe = [STORE_FORMAT, await this.modelHash, this.inputNames[0], this.base.outputName, x.shape.slice(1).join('x'), others.join(','), axes, this.opts.blockedLayout ? 'nchwc' : 'plain'];
    return sha256Hex(new TextEncoder().encode(JSON.stringify(recipe)));
  }

  /**
   * A session on a stored VJP graph, or undefined (the caller compiles) when there is none or it is
   * not one: an entry must unpack, decode as ONNX, take this model's inputs plus the cotangent, give
   * the output and the input's gradient, and open in ORT.
   */
  private async fromStore(key: string): Promise<CompiledVjp | undefined> {
    try {
      const raw = await this.opts.graphStore!.get(key);
      const entry = raw ? unpackEntry(raw) : undefined;
      if (!entry) return undefined;
      const g = graphOf(decodeModel(entry.graph));
      const inputs = new Set(g.input.map((i) => i.name));
      const outputs = g.output.map((o) => o.name);
      const wanted = [...this.inputNames, COTANGENT];
      if (!wanted.every((n) => inputs.has(n)) || outputs.length !== 2 || outputs[0] !== this.base.outputName || outputs[1] !== gradName(this.inputNames[0]!)) return undefined;
      const session = await this.ort.InferenceSession.create(entry.graph, this.opts.sessionOptions);
      return { session, outputDims: entry.outputDims, graph: entry.graph };
    } catch {
      return undefined;
    }
  }

  dispose(): void {
    this.base.dispose();
    for (const v of this.vjps.values()) void v.then(releaseVjp).catch(() => undefined);
    this.vjps.clear();
  }
}

/** Releases a compiled graph's sessions. */
function releaseVjp(c: CompiledVjp): void {
  void c.session.release();
  void c.small?.then((s) => s.release()).catch(() => undefined);
}

/**
 * Applies graph surgery when `inputName` or `outputName` names an intermediate tensor: the graph is
 * cut there (the tensor becomes the attributed input) or the tensor becomes the output.
 */
function rewire(bytes: Uint8Array, opts: OnnxModelOptions): Uint8Array {
  if (opts.inputName === undefined && opts.outputName === undefined) return bytes;
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch {
    return bytes; // ORT reports the corrupt file when it loads it
  }
  const g = graphOf(model);
  let changed = false;
  if (opts.outputName !== undefined && !g.output.some((o) => o.name === opts.outputName)) {
    model = withOutputs(model, [opts.outputName]);
    changed = true;
  }
  if (opts.inputName !== undefined && !graphOf(model).input.some((i) => i.name === opts.inputName)) {
    model = cutAt(model, opts.inputName);
    changed = true;
  }
  return changed ? encodeModel(model) : bytes;
}
