// An ONNX model as a function of its parameters θ, run in float64 on ONNX Runtime, with per-example
// gradients of any per-example objective of its outputs: the loss, or TRAK's margin.
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError, CapabilityError, InvalidArgumentError, ModelLoadError } from '../../core/errors.js';
import { COTANGENT, compileVjp, encodeModel, gradName, probeModel, unsupportedOps } from '../../models/onnx/grad/compile.js';
import { attrInt, floatValues } from '../../models/onnx/graph/build.js';
import { graphOf, onnx, type ModelProto, type TensorProto } from '../../models/onnx/graph/proto.js';
import { withOutputs } from '../../models/onnx/graph/surgery.js';
import { importPeer } from '../../models/peers.js';
import { denseLayers, type DenseLayer, type ParameterInfo } from './dense-layers.js';
import { toFloat64 } from './float64.js';

/** The parts of onnxruntime (node or web) the training model needs. */
export interface OrtDoubleEngine {
  readonly Tensor: new (type: 'float64', data: Float64Array, dims: readonly number[]) => OrtTensor;
  readonly InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
}

export interface TrainingModelOptions {
  /** The output the loss is taken of (logits). Default: the first graph output. */
  readonly outputName?: string;
  /**
   * When the output is a Softmax over the last axis, take the loss on its input (the logits) instead:
   * cross-entropy is defined on logits. Default false.
   */
  readonly stripSoftmax?: boolean;
  /** The onnxruntime module. Default: onnxruntime-node, imported on first use. */
  readonly ort?: OrtDoubleEngine;
}

/**
 * Maps the model's outputs `[rows, units]` to the cotangent of each row's objective with respect to
 * them (row i's objective depends on row i's outputs only), e.g. softmax(z) − onehot(y) for the
 * cross-entropy loss. `rows` are the examples' indices in the data set.
 */
export type OutputCotangent = (outputs: Float64Array, rows: readonly number[] | Int32Array, start: number) => Float64Array;

/** Gradients of one batch: per example `[rows, p]`, or summed over the rows `[p]`. */
export interface GradientBatch {
  readonly outputs: Float64Array;
  readonly grads: Float64Array;
}

const SESSION_OPTIONS: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };

/**
 * An ONNX classifier or regressor whose dense-layer weights and biases are the parameters θ (in
 * `parameters` order: each layer's weight then bias, in graph order). Every run is float64 (the graph
 * is rewritten to double) and may take another θ (checkpoints, Hessian finite differences).
 *
 * Per-example gradients are exact and batched: one forward run gives each layer's input x_i, one
 * backward run (the compiled VJP graph, all layers' output cotangents at once) gives dy_i, and the
 * layer's per-example weight gradient is the outer product α·dy_iᵀx_i (bias: β·dy_i).
 *
 * Cost: two session runs per batch of rows, plus rows × p multiply-adds.
 * @throws {CapabilityError} `capability_missing` naming the op of a parameter that is not a dense
 *   layer's weight or bias (see {@link denseLayers}), or an op without a gradient rule.
 */
export class OnnxTrainingModel implements Disposable {
  private constructor(
    private readonly ort: OrtDoubleEngine,
    private readonly forwardSession: InferenceSession,
    private readonly backwardSession: InferenceSession,
    readonly layers: readonly DenseLayer[],
    readonly parameters: readonly ParameterInfo[],
    private readonly theta0: Float64Array,
    readonly inputName: string,
    readonly outputName: string,
    /** Shape of one input row (after the batch axis). */
    readonly rowShape: readonly number[],
    /** Shape of one output row (after the batch axis). */
    readonly outputRowShape: readonly number[],
    private readonly activations: readonly string[],
  ) {}

  /** Units of the output per row (classes, for a classifier). */
  get units(): number {
    return this.outputRowShape.reduce((a, b) => a * b, 1);
  }

  /** Number of parameters p. */
  get parameterCount(): number {
    return this.theta0.length;
  }

  /** A copy of the stored parameters θ (float64). */
  theta(): Float64Array {
    return this.theta0.slice();
  }

  /** Loads an ONNX model (bytes or decoded) for training-data attribution. */
  static async load(model: Uint8Array | ModelProto, opts: TrainingModelOptions = {}): Promise<OnnxTrainingModel> {
    const ort = opts.ort ?? ((await importPeer('onnxruntime-node')) as OrtDoubleEngine);
    let proto: ModelProto;
    try {
      proto = model instanceof Uint8Array ? onnx.ModelProto.decode(model) : model;
    } catch (e) {
      throw new ModelLoadError(`Cannot decode the ONNX model: ${(e as Error).message}`, {}, e);
    }
    const g = graphOf(proto);
    const initNames = new Set(g.initializer.map((t) => t.name));
    const inputs = g.input.filter((i) => !initNames.has(i.name));
    if (inputs.length !== 1) throw new CapabilityError(`Training-data attribution needs an ONNX model with one input; this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`, { inputs: inputs.map((i) => i.name) });
    const input = inputs[0]!;
    if (input.type?.tensorType?.elemType !== onnx.TensorProto.DataType.FLOAT) throw new CapabilityError(`ONNX input '${input.name}' must be float32 for training-data attribution`, { input: input.name });
    const rowShape = (input.type.tensorType.shape?.dim ?? []).slice(1).map((d) => Number(d.dimValue ?? 0));
    if (rowShape.some((d) => !(d > 0))) throw new CapabilityError(`ONNX input '${input.name}' must have static dims after the batch axis`, { input: input.name });
    let outputName = opts.outputName ?? g.output[0]?.name ?? '';
    const softmax = g.node.find((n) => n.opType === 'Softmax' && n.output?.[0] === outputName);
    if (opts.stripSoftmax && softmax && [-1, 1].includes(attrInt(softmax, 'axis', -1))) outputName = softmax.input![0]!;
    if (!g.output.some((o) => o.name === outputName) && !g.node.some((n) => n.output?.includes(outputName))) {
      throw new ModelLoadError(`ONNX model has no output '${outputName}'`, { output: outputName });
    }
    const { layers, parameters } = denseLayers(proto, outputName);
    // refused before ONNX Runtime sees the graph, which may not even run the op in float64
    const missing = unsupportedOps(proto, layers.map((l) => l.output), outputName);
    if (missing.length > 0) {
      const { op, node } = missing[0]!;
      throw new CapabilityError(`The loss cannot be differentiated through ONNX op '${op}' (node '${node}'): it has no gradient rule; training-data attribution needs one for every op between the dense layers and the output '${outputName}'`, { op, node, ops: missing.map((m) => m.op) });
    }
    // the parameters become graph inputs, so that every run can take its own θ
    const open = onnx.ModelProto.decode(onnx.ModelProto.encode(proto).finish());
    const og = graphOf(open);
    // the file is untrusted: each parameter's data must be what its dims declare, before θ is allocated from them
    for (const p of parameters) checkInitializer(og.initializer.find((t) => t.name === p.name), p);
    const theta = new Float64Array(parameters.reduce((a, p) => a + p.size, 0));
    for (const p of parameters) {
      const at = og.initializer.findIndex((t) => t.name === p.name);
      theta.set(floatValues(og.initializer[at])!, p.offset);
      og.initializer.splice(at, 1);
      og.input.push(onnx.ValueInfoProto.fromObject({ name: p.name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: p.dims.map((d) => ({ dimValue: d })) } } } }));
    }
    const activations = [...new Set(layers.map((l) => l.input).filter((t) => t !== input.name))];
    const create = async (m: ModelProto, what: string): Promise<InferenceSession> => {
      try {
        return await ort.InferenceSession.create(encodeModel(m), SESSION_OPTIONS);
      } catch (e) {
        throw new CapabilityError(`ONNX Runtime cannot run the model's ${what} in float64: ${(e as Error).message.split('\n')[0]}`, { what }, e);
      }
    };
    const shapes = new Map<string, readonly number[]>();
    const probe = await create(toFloat64(probeModel(open)), 'probe');
    try {
      const feeds: Record<string, OrtTensor> = { [input.name ?? '']: new ort.Tensor('float64', new Float64Array(rowShape.reduce((a, b) => a * b, 1)), [1, ...rowShape]) };
      for (const p of parameters) feeds[p.name] = new ort.Tensor('float64', theta.slice(p.offset, p.offset + p.size), p.dims);
      const values = await probe.run(feeds);
      for (const [name, v] of Object.entries(values)) shapes.set(name, (v as OrtTensor).dims);
    } catch (e) {
      throw new BackendError(`ONNX Runtime failed to probe the model's shapes: ${(e as Error).message}`, {}, e);
    } finally {
      void probe.release();
    }
    shapes.set(input.name ?? '', [1, ...rowShape]);
    for (const p of parameters) shapes.set(p.name, p.dims);
    for (const t of og.initializer) shapes.set(t.name ?? '', (t.dims ?? []).map(Number));
    const outputRowShape = (shapes.get(outputName) ?? [1, 1]).slice(1);
    const vjp = compileVjp(open, layers.map((l) => l.output), outputName, shapes);
    const forward = await create(toFloat64(withOutputs(open, [outputName, ...activations])), 'forward graph');
    let backward: InferenceSession;
    try {
      backward = await create(toFloat64(vjp), 'backward graph');
    } catch (e) {
      void forward.release(); // not left open when the backward graph cannot run
      throw e;
    }
    return new OnnxTrainingModel(ort, forward, backward, layers, parameters, theta, input.name ?? '', outputName, rowShape, outputRowShape, activations);
  }

  /**
   * Gradients of each row's objective with respect to θ for `rows` input rows (`x`: row-major
   * `[rows, …rowShape]`): per example `[rows, p]` (`sum: false`) or summed over rows `[p]`.
   * `cotangent` maps the outputs to the objective's output cotangents (see {@link OutputCotangent}).
   */
  async gradients(x: Float64Array, rows: number, cotangent: (outputs: Float64Array) => Float64Array, opts: { readonly theta?: Float64Array; readonly sum?: boolean } = {}): Promise<GradientBatch> {
    const f = await this.layerFactors(x, rows, (z) => [cotangent(z)], opts.theta);
    const p = this.theta0.length;
    const sum = opts.sum ?? false;
    const grads = new Float64Array(sum ? p : rows * p);
    this.layers.forEach((l, k) => accumulateLayer(l, f.inputs[k]!, f.cotangents[0]![k]!, rows, p, grads, sum));
    return { outputs: f.outputs, grads };
  }

  /**
   * The two factors of every dense layer's per-example gradients: its input x `[rows, …, in]` (one
   * forward run) and its output cotangent dy `[rows, …, out]` for each of the output cotangents
   * `cotangents(outputs)` returns (one backward run each). Layer k's weight gradient of row i is
   * α·Σ dy_iᵀx_i; K-FAC-style methods use the factors themselves.
   */
  async layerFactors(x: Float64Array, rows: number, cotangents: (outputs: Float64Array) => readonly Float64Array[], theta = this.theta0): Promise<{ outputs: Float64Array; inputs: Float64Array[]; cotangents: Float64Array[][] }> {
    const fn = 'OnnxTrainingModel.gradients';
    const rowSize = this.rowShape.reduce((a, b) => a * b, 1);
    if (x.length !== rows * rowSize) throw new InvalidArgumentError(`Argument 'x' passed to '${fn}' must hold ${rows} rows of ${rowSize} values, got ${x.length} values`, { arg: 'x', fn });
    if (theta.length !== this.theta0.length) throw new InvalidArgumentError(`Argument 'theta' passed to '${fn}' must hold ${this.theta0.length} parameters, got ${theta.length}`, { arg: 'theta', fn });
    const feeds: Record<string, OrtTensor> = { [this.inputName]: new this.ort.Tensor('float64', x, [rows, ...this.rowShape]) };
    for (const p of this.parameters) feeds[p.name] = new this.ort.Tensor('float64', theta.slice(p.offset, p.offset + p.size), p.dims);
    const fwd = await this.runSession(this.forwardSession, feeds);
    const outputs = fwd[this.outputName]!;
    const acts = new Map<string, Float64Array>([[this.inputName, x]]);
    for (const a of this.activations) acts.set(a, fwd[a]!);
    const out: Float64Array[][] = [];
    for (const cot of cotangents(outputs)) {
      if (cot.length !== outputs.length) throw new InvalidArgumentError(`The output cotangent passed to '${fn}' must have ${outputs.length} values, got ${cot.length}`, { arg: 'cotangent', fn });
      feeds[COTANGENT] = new this.ort.Tensor('float64', cot, [rows, ...this.outputRowShape]);
      const bwd = await this.runSession(this.backwardSession, feeds);
      out.push(this.layers.map((l) => bwd[gradName(l.output)]!));
    }
    return { outputs, inputs: this.layers.map((l) => acts.get(l.input)!), cotangents: out };
  }

  private async runSession(session: InferenceSession, feeds: Record<string, OrtTensor>): Promise<Record<string, Float64Array>> {
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await session.run(feeds);
    } catch (e) {
      throw new BackendError(`ONNX Runtime failed to run the training model: ${(e as Error).message}`, {}, e);
    }
    const out: Record<string, Float64Array> = {};
    for (const [name, t] of Object.entries(result)) out[name] = (t as OrtTensor).data as Float64Array;
    return out;
  }

  dispose(): void {
    void this.forwardSession.release();
    void this.backwardSession.release();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Adds one layer's gradients: per row i, α·Σ_m dy[i,m,:]ᵀ x[i,m,:] into the weight (m runs over the
 * positions of a batched MatMul, one for Gemm) and β·Σ_m dy[i,m,:] into the bias.
 */
function accumulateLayer(l: DenseLayer, x: Float64Array, dy: Float64Array, rows: number, p: number, grads: Float64Array, sum: boolean): void {
  const out = l.units;
  if (rows === 0) return;
  const inn = l.outFirst ? l.weightDims[1] : l.weightDims[0];
  const positions = dy.length / (rows * out);
  for (let i = 0; i < rows; i++) {
    const base = sum ? 0 : i * p;
    for (let m = 0; m < positions; m++) {
      const xo = (i * positions + m) * inn;
      const yo = (i * positions + m) * out;
      for (let o = 0; o < out; o++) {
        const d = l.alpha * dy[yo + o]!;
        if (d === 0) continue;
        if (l.outFirst) {
          const w = base + l.weightOffset + o * inn;
          for (let k = 0; k < inn; k++) grads[w + k]! += d * x[xo + k]!;
        } else {
          const w = base + l.weightOffset + o;
          for (let k = 0; k < inn; k++) grads[w + k * out]! += d * x[xo + k]!;
        }
      }
      if (l.biasSize > 0) {
        const b = base + l.biasOffset;
        for (let o = 0; o < out; o++) grads[b + (l.biasSize === 1 ? 0 : o)]! += l.beta * dy[yo + o]!;
      }
    }
  }
}

/**
 * Refuses a parameter initializer whose dims are not non-negative integers or whose data (raw bytes
 * or float_data) does not hold exactly the values its dims declare (external data included).
 * @throws {ModelLoadError} `invalid_model` naming the tensor.
 */
function checkInitializer(t: TensorProto | undefined, p: ParameterInfo): void {
  const dims = `[${p.dims.join(', ')}]`;
  if (!t || !p.dims.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(p.size)) {
    throw new ModelLoadError(`ONNX initializer '${p.name}' has dims ${dims}; they must be non-negative integers`, { tensor: p.name, dims: p.dims });
  }
  const raw = t.rawData?.length ?? 0;
  const held = raw > 0 ? raw / 4 : (t.floatData?.length ?? 0);
  if (held !== p.size) {
    throw new ModelLoadError(`ONNX initializer '${p.name}' has dims ${dims} (${p.size} values) but its data holds ${held}${t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL ? ' (external data files are not read)' : ''}; the model file is corrupt`, { tensor: p.name, dims: p.dims, expected: p.size, actual: held });
  }
}
