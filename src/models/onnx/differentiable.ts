import * as tf from '@tensorflow/tfjs-core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError, ModelLoadError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import type { CallContext, DifferentiableModel, HostTensor, ModelAdapter } from '../model.js';
import { COTANGENT, compileVjp, decodeModel, encodeModel, gradName, opsetBlocker, probeModel, unsupportedOps } from './grad/compile.js';
import { simplifyForGradients } from './grad/simplify.js';
import { graphOf, type ModelProto } from './graph/proto.js';
import { cutAt, withOutputs } from './graph/surgery.js';
import { fromOnnxSession, type OnnxForwardAdapter, type OnnxModelOptions, type OrtModule } from './session.js';
import { hookNodes, OnnxHookedModel, probeShapes } from './hooked.js';
import { gradOrRelease } from '../tfjs/tape.js';

/** An onnxruntime module that can also create sessions (node or web). */
export interface OrtEngine extends OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
}

export interface OnnxAdapterOptions extends OnnxModelOptions {
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /** ORT runs convolutions in its blocked NCHWc layout (onnxruntime-node on x86): see compileVjp. */
  readonly blockedLayout?: boolean;
}

/**
 * An ONNX model on ONNX Runtime. Forward passes run the model as is. When every op between the
 * attributed input and the output has a gradient rule (and the input is float), the adapter is
 * differentiable: on the first `gradients` call it runs the graph once with every intermediate
 * tensor exposed (to learn shapes), compiles a vector–Jacobian graph (see grad/compile.ts), opens a
 * second session on it, and reuses that session afterwards. Otherwise it is forward-only and
 * `gradientsUnavailable` says why.
 */
export async function onnxAdapter(original: Uint8Array, ort: OrtEngine, opts: OnnxAdapterOptions = {}): Promise<ModelAdapter & { readonly gradientsUnavailable?: string }> {
  const { adapter: inner, proto } = await onnxAdapterCore(original, ort, opts);
  if (!proto) return inner;
  // hook points by graph surgery (see hooked.ts): rewired copies share this loader, without hooks of their own
  const session = (p: ModelProto) => ort.InferenceSession.create(encodeModel(p), opts.sessionOptions);
  const shapes = await probeShapes(proto, hookNodes(proto).map((n) => n.name), inner.inputShape, inner.inputNames?.[0] ?? 'input', session, ort as never);
  const variant = async (rw: { inputName?: string; outputName?: string }) => (await onnxAdapterCore(original, ort, { ...opts, ...rw })).adapter;
  return new OnnxHookedModel(inner, proto, shapes, variant, session, ort as never);
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
  const base = fromOnnxSession(session, ort, opts);
  let proto: ModelProto;
  try {
    proto = decodeModel(bytes);
  } catch (e) {
    return { adapter: Object.assign(base, { gradientsUnavailable: `the ONNX protobuf could not be decoded (${(e as Error).message})` }) };
  }
  const input = base.inputNames[0]!;
  const why =
    base.inputType !== 'float32'
      ? `input '${input}' holds ${base.inputType} values (token ids have no gradient: differentiate an embedding output instead)`
      : (opsetBlocker(proto) ??
        unsupportedOps(proto, input, base.outputName)
          .map((u) => `op '${u.op}' (node '${u.node}') has no gradient rule`)
          .join('; '));
  if (why) return { adapter: Object.assign(base, { gradientsUnavailable: why }), proto };
  return { adapter: new OnnxGradientModel(base, proto, ort, opts), proto };
}

/** Backward graphs kept per model (one per distinct input row shape). */
const MAX_VJP_SHAPES = 8;

class OnnxGradientModel implements DifferentiableModel {
  readonly capabilities = { gradients: true, hooks: false } as const;
  readonly name: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape?: readonly (number | null)[];
  readonly inputNames: readonly string[];
  /**
   * Compiled VJP sessions by the input's per-row shape: the backward graph bakes in shapes from its
   * probe (slice pads, one-hot depths, output paddings), so a model with dynamic dims (e.g. sequence
   * length) gets one graph per shape it meets; the oldest is released beyond `MAX_VJP_SHAPES`.
   */
  private readonly vjps = new Map<string, Promise<{ session: InferenceSession; outputDims: readonly number[] }>>();
  /** The graph the backward is compiled from (see grad/simplify.ts): rewritten once, whatever the shape. */
  private prepared?: ModelProto;

  constructor(
    private readonly base: OnnxForwardAdapter,
    private readonly proto: ModelProto,
    private readonly ort: OrtEngine,
    private readonly opts: OnnxAdapterOptions,
  ) {
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

  async gradients(x: tf.Tensor, objective: Objective, ctx?: CallContext): Promise<tf.Tensor> {
    const { session, outputDims } = await this.compiled(x, ctx);
    const n = x.shape[0]!;
    const outShape = [n, ...outputDims.slice(1)];
    const classes = outShape.slice(1).reduce((a, b) => a * b, 1);
    let cot: Float32Array;
    if (objective.targetIndices) {
      // index targets: a one-hot cotangent, forward and backward in one run
      cot = new Float32Array(n * classes);
      objective.targetIndices.forEach((t, i) => (cot[i * classes + t] = 1));
    } else {
      const y = await this.base.forward(x, ctx);
      let g: tf.Tensor;
      try {
        g = gradOrRelease((o: tf.Tensor) => tf.sum(objective(o)), y);
      } finally {
        y.dispose();
      }
      cot = (await g.data()) as Float32Array;
      g.dispose();
    }
    const feeds = await this.base.buildFeeds(x, ctx);
    feeds[COTANGENT] = new this.ort.Tensor('float32', cot, outShape);
    const out = gradName(this.inputNames[0]!);
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await session.run(feeds, [out]);
    } catch (e) {
      throw new BackendError(`ONNX Runtime failed to run the gradient graph of '${this.name}': ${(e as Error).message}`, { model: this.name }, e);
    }
    const t = result[out] as OrtTensor;
    const grad = tf.tensor(t.data as Float32Array, x.shape);
    t.dispose?.();
    return grad;
  }

  /** Compiles the VJP graph once (shapes from one probe run with a batch of one row). */
  private compiled(x: tf.Tensor, ctx?: CallContext): Promise<{ session: InferenceSession; outputDims: readonly number[] }> {
    const key = x.shape.slice(1).join('x');
    const known = this.vjps.get(key);
    if (known) return known;
    const vjp = (async () => {
      const input = this.inputNames[0]!;
      const prepared = (this.prepared ??= simplifyForGradients(this.proto).model);
      const probe = await this.ort.InferenceSession.create(encodeModel(probeModel(prepared)));
      try {
        const row = tf.slice(x, 0, 1);
        const feeds = await this.base.buildFeeds(row, { rows: [ctx?.rows?.[0] ?? 0], ...(ctx?.inputs ? { inputs: ctx.inputs } : {}) });
        row.dispose();
        const values = await probe.run(feeds);
        const shapes = new Map<string, readonly number[]>();
        for (const [name, v] of Object.entries(values)) shapes.set(name, (v as OrtTensor).dims);
        shapes.set(input, [1, ...x.shape.slice(1)]);
        for (const init of graphOf(prepared).initializer) shapes.set(init.name ?? '', (init.dims ?? []).map((d) => Number(d)));
        const vjp = compileVjp(prepared, input, this.base.outputName, shapes, { blockedLayout: this.opts.blockedLayout ?? false });
        const session = await this.ort.InferenceSession.create(encodeModel(vjp), this.opts.sessionOptions);
        return { session, outputDims: shapes.get(this.base.outputName) ?? [1] };
      } finally {
        void probe.release();
      }
    })();
    this.vjps.set(key, vjp);
    vjp.catch(() => this.vjps.delete(key));
    if (this.vjps.size > MAX_VJP_SHAPES) {
      const [oldest, session] = this.vjps.entries().next().value!;
      this.vjps.delete(oldest);
      void session.then((v) => v.session.release()).catch(() => undefined);
    }
    return vjp;
  }

  dispose(): void {
    this.base.dispose();
    for (const v of this.vjps.values()) void v.then((c) => c.session.release()).catch(() => undefined);
    this.vjps.clear();
  }
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
