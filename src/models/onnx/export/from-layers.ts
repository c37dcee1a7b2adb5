// TF.js layers models written as ONNX graphs, so that they run (and differentiate) on ONNX Runtime.
// Every layer's output keeps TF.js's channels-last layout and is named after its layer, so hook names
// and layer-shaped results are the same on both engines; convolutions and pooling transpose to
// channels-first around the ONNX op (ORT's optimizer cancels the transposes between layers).
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CapabilityError, InvalidArgumentError } from '../../../core/errors.js';
import type { ExecNode } from '../../tfjs/executor.js';
import { LayersModelAdapter } from '../../tfjs/layers-model.js';
import { floatAttr, intAttr, intsAttr, permute } from '../graph/build.js';
import { onnx } from '../graph/proto.js';
import { GraphWriter, type Shape } from './writer.js';

export interface OnnxExportOptions {
  /** Default-domain opset of the written model (17 or newer: LayerNormalization). Default 17. */
  readonly opset?: number;
}

/** Layer classes the exporter writes, for messages and docs. */
export const EXPORTABLE_LAYERS = [
  'Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'BatchNormalization', 'LayerNormalization',
  'Embedding', 'Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax', 'Flatten', 'Reshape', 'Permute', 'ZeroPadding2D', 'Add',
  'Multiply', 'Average', 'Concatenate', 'Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
] as const;

/** Activations the exporter writes (TF.js class names). */
export const EXPORTABLE_ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'logSoftmax', 'elu', 'softplus', 'swish', 'gelu', 'gelu_new'] as const;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** What one layer converter sees. */
interface LayerContext {
  readonly n: ExecNode;
  readonly config: Record<string, unknown>;
  /** ONNX names of the layer call's inputs (channels-last, as in TF.js). */
  readonly inputs: readonly string[];
  /** Static shapes of those inputs (null for the batch and dynamic dims). */
  readonly inputShapes: readonly Shape[];
  /** The name the layer's output must carry. */
  readonly out: string;
  readonly g: GraphWriter;
}

/**
 * Writes a TF.js layers model (Sequential or functional) as an ONNX model (bytes). Inputs keep their
 * names and TF.js shapes (channels-last); an input that feeds an Embedding is int64 token ids.
 * @throws {AttributionError} `capability_missing` naming the first layer (or activation) the exporter does not write.
 */
export function exportLayersModel(model: LayersModel | LayersModelAdapter, opts: OnnxExportOptions = {}): Uint8Array {
  const adapter = model instanceof LayersModelAdapter ? model : new LayersModelAdapter(model);
  const opset = opts.opset ?? 17;
  if (opset < 17) throw new InvalidArgumentError(`Option 'opset' passed to 'exportLayersModel' must be 17 or newer, got ${opset}`, { arg: 'opset' });
  const graph = adapter.layers.graph;
  const g = new GraphWriter();
  const names = new Map<number, string>();
  const inputNames = (adapter.model as unknown as { inputNames?: string[] }).inputNames ?? graph.inputs.map((_, i) => `input_${i}`);
  const embeddingInputs = new Set(adapter.layers.nodes.filter((n) => n.layer.getClassName() === 'Embedding').flatMap((n) => n.inputs));
  const inputs = graph.inputs.map((t, i) => {
    names.set(t.id, inputNames[i]!);
    return { name: inputNames[i]!, shape: t.shape, elemType: embeddingInputs.has(t.id) ? INT64 : FLOAT };
  });
  for (const n of adapter.layers.nodes) {
    const className = n.layer.getClassName();
    const convert = CONVERTERS[className];
    if (!convert) {
      throw new CapabilityError(`Layer '${n.name}' (${className}) of model '${adapter.name}' has no ONNX export; exportable layers are ${EXPORTABLE_LAYERS.join(', ')}`, { layer: n.name, className });
    }
    const ins = n.inputs.map((id) => names.get(id)!);
    const shapes = n.node.inputTensors.map((t) => t.shape ?? []);
    if (n.outputs.length !== 1) throw new CapabilityError(`Layer '${n.name}' (${className}) has ${n.outputs.length} outputs; the ONNX export writes single-output layers`, { layer: n.name });
    convert({ n, config: n.layer.getConfig(), inputs: ins, inputShapes: shapes, out: n.name, g });
    names.set(n.outputs[0]!, n.name);
  }
  const outputs = graph.outputs.map((t) => ({ name: names.get(t.id)!, shape: t.shape, elemType: FLOAT }));
  return g.encode(adapter.name, inputs, outputs, opset);
}

// ---- helpers --------------------------------------------------------------------------------------

interface WeightLike {
  readonly name: string;
  readonly shape: readonly number[];
  read(): { dataSync(): ArrayLike<number> };
}

/** A layer weight by the last part of its name (`kernel`, `bias`, `gamma`…), undefined when absent. */
function weightOf(c: LayerContext, suffix: string): WeightLike | undefined {
  const ws = (c.n.layer as unknown as { weights: WeightLike[] }).weights ?? [];
  return ws.find((w) => w.name.split('/').pop()!.replace(/_\d+$/, '') === suffix);
}

/** Writes a weight, optionally transposed by `perm` (TF.js layout → ONNX layout). */
function writeWeight(c: LayerContext, suffix: string, perm?: readonly number[]): { name: string; dims: number[] } | undefined {
  const w = weightOf(c, suffix);
  if (!w) return undefined;
  const dims = perm ? perm.map((p) => w.shape[p]!) : [...w.shape];
  const name = c.g.weight(w, `${c.n.layer.name}/${suffix}`, dims, () => (perm ? permute(w.read().dataSync(), w.shape, perm) : w.read().dataSync()));
  return { name, dims };
}

const range = (a: number, b: number): number[] => Array.from({ length: Math.max(b - a, 0) }, (_, i) => a + i);
/** Channels-last → channels-first permutation for a tensor of this rank, and back. */
const toFirst = (rank: number): number[] => [0, rank - 1, ...range(1, rank - 1)];
const toLast = (rank: number): number[] => [0, ...range(2, rank), 1];

const asList = (v: unknown, n: number): number[] => (Array.isArray(v) ? v.map(Number) : new Array(n).fill(Number(v)));

function staticSpatial(c: LayerContext, what: string): number[] {
  const s = c.inputShapes[0]!;
  const dims = c.config['dataFormat'] === 'channelsFirst' ? s.slice(2) : s.slice(1, -1);
  if (dims.some((d) => d === null)) throw new CapabilityError(`Layer '${c.n.name}' has dynamic spatial dims ${JSON.stringify(s)}; the ONNX export needs them static for '${what}' padding`, { layer: c.n.name });
  return dims as number[];
}

/** Explicit ONNX pads [begin…, end…] for TF padding 'valid' | 'same'. */
function padsFor(c: LayerContext, padding: string, kernel: number[], strides: number[], dilations: number[]): number[] {
  const k = kernel.length;
  if (padding === 'valid') return new Array(2 * k).fill(0);
  if (padding !== 'same') throw new CapabilityError(`Layer '${c.n.name}' uses padding '${padding}'; the ONNX export writes 'valid' and 'same'`, { layer: c.n.name, padding });
  const spatial = staticSpatial(c, padding);
  const total = spatial.map((d, i) => Math.max((Math.ceil(d / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - d, 0));
  return [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))];
}

/** Runs `body` on the input in channels-first layout and returns its result in channels-last layout. */
function channelsFirst(c: LayerContext, body: (x: string) => string, out?: string): string {
  const rank = c.inputShapes[0]!.length;
  if (c.config['dataFormat'] === 'channelsFirst') return c.g.op('Identity', [body(c.inputs[0]!)], [], out);
  const x = c.g.op('Transpose', [c.inputs[0]!], [intsAttr('perm', toFirst(rank))]);
  return c.g.op('Transpose', [body(x)], [intsAttr('perm', toLast(rank))], out);
}

/** The activation `name` applied to `x`; writes its output as `out`. */
function activation(c: LayerContext, name: string, x: string, out: string): string {
  const g = c.g;
  const scalar = (v: number) => g.floats('attrib_export_scalar', [], [v]);
  switch (name) {
    case 'linear':
      return g.op('Identity', [x], [], out);
    case 'relu':
      return g.op('Relu', [x], [], out);
    case 'relu6':
      return g.op('Clip', [x, scalar(0), scalar(6)], [], out);
    case 'sigmoid':
      return g.op('Sigmoid', [x], [], out);
    case 'tanh':
      return g.op('Tanh', [x], [], out);
    case 'softmax':
      return g.op('Softmax', [x], [intAttr('axis', -1)], out);
    case 'logSoftmax':
      return g.op('LogSoftmax', [x], [intAttr('axis', -1)], out);
    case 'elu':
      return g.op('Elu', [x], [floatAttr('alpha', 1)], out);
    case 'softplus':
      return g.op('Softplus', [x], [], out);
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x])], [], out);
    case 'gelu': {
      // x · ½(1 + erf(x/√2)), as TF.js computes it
      const cdf = g.op('Mul', [scalar(0.5), g.op('Add', [scalar(1), g.op('Erf', [g.op('Mul', [x, scalar(Math.SQRT1_2)])])])]);
      return g.op('Mul', [x, cdf], [], out);
    }
    case 'gelu_new': {
      // ½ · x · (1 + tanh(√(2/π) · (x + 0.044715x³)))
      const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
      const inner = g.op('Mul', [scalar(Math.sqrt(2 / Math.PI)), g.op('Add', [x, g.op('Mul', [scalar(0.044715), cube])])]);
      return g.op('Mul', [scalar(0.5), g.op('Mul', [x, g.op('Add', [scalar(1), g.op('Tanh', [inner])])])], [], out);
    }
    default:
      throw new CapabilityError(`Layer '${c.n.name}' uses activation '${name}', which has no ONNX export; exportable activations are ${EXPORTABLE_ACTIVATIONS.join(', ')}`, { layer: c.n.name, activation: name });
  }
}

/** The layer's fused activation (Dense, Conv…) on `x`, written as the layer's output. */
const fused = (c: LayerContext, x: string): string => activation(c, c.n.layer.activation?.getClassName() ?? 'linear', x, c.out);

/** Conv1D/Conv2D (and the depthwise part of SeparableConv2D) in channels-first layout. */
function conv(c: LayerContext, x: string, w: string, b: string | undefined, kernel: number[], group: number): string {
  const k = kernel.length;
  const strides = asList(c.config['strides'], k);
  const dilations = asList(c.config['dilationRate'] ?? 1, k);
  const pads = padsFor(c, String(c.config['padding'] ?? 'valid'), kernel, strides, dilations);
  const attrs = [intsAttr('kernel_shape', kernel), intsAttr('strides', strides), intsAttr('dilations', dilations), intsAttr('pads', pads), intAttr('group', group)];
  return c.g.op('Conv', b ? [x, w, b] : [x, w], attrs);
}

function pool(type: 'MaxPool' | 'AveragePool', dims: number): (c: LayerContext) => void {
  return (c) => {
    const kernel = asList(c.config['poolSize'], dims);
    const strides = asList(c.config['strides'] ?? c.config['poolSize'], dims);
    const pads = padsFor(c, String(c.config['padding'] ?? 'valid'), kernel, strides, new Array(dims).fill(1));
    channelsFirst(c, (x) => c.g.op(type, [x], [intsAttr('kernel_shape', kernel), intsAttr('strides', strides), intsAttr('pads', pads)]), c.out);
  };
}

const identity = (c: LayerContext): void => void c.g.op('Identity', [c.inputs[0]!], [], c.out);

function merge(type: 'Add' | 'Mul'): (c: LayerContext) => void {
  return (c) => {
    const [head, ...rest] = c.inputs;
    const acc = rest.slice(0, -1).reduce((a, b) => c.g.op(type, [a, b]), head!);
    c.g.op(type, [acc, rest[rest.length - 1]!], [], c.out);
  };
}

// ---- converters -----------------------------------------------------------------------------------

const CONVERTERS: Readonly<Record<string, (c: LayerContext) => void>> = {
  Dense: (c) => {
    const w = writeWeight(c, 'kernel')!;
    const b = writeWeight(c, 'bias');
    const rank = c.inputShapes[0]!.length;
    const pre =
      rank === 2
        ? c.g.op('Gemm', b ? [c.inputs[0]!, w.name, b.name] : [c.inputs[0]!, w.name])
        : b
          ? c.g.op('Add', [c.g.op('MatMul', [c.inputs[0]!, w.name]), b.name])
          : c.g.op('MatMul', [c.inputs[0]!, w.name]);
    fused(c, pre);
  },
  Conv1D: (c) => convLayer(c, 1),
  Conv2D: (c) => convLayer(c, 2),
  DepthwiseConv2D: (c) => {
    // depthwise kernel [kh, kw, in, mult] → ONNX [in·mult, 1, kh, kw], group = in
    const w = writeWeight(c, 'depthwise_kernel', [2, 3, 0, 1])!;
    const [cin, mult, kh, kw] = w.dims as [number, number, number, number];
    const reshaped = c.g.op('Reshape', [w.name, c.g.ints([cin * mult, 1, kh, kw])]);
    const b = writeWeight(c, 'bias');
    fused(c, channelsFirst(c, (x) => conv(c, x, reshaped, b?.name, [kh, kw], cin)));
  },
  SeparableConv2D: (c) => {
    const dw = writeWeight(c, 'depthwise_kernel', [2, 3, 0, 1])!;
    const [cin, mult, kh, kw] = dw.dims as [number, number, number, number];
    const dwk = c.g.op('Reshape', [dw.name, c.g.ints([cin * mult, 1, kh, kw])]);
    const pw = writeWeight(c, 'pointwise_kernel', [3, 2, 0, 1])!; // [1, 1, in·mult, out] → [out, in·mult, 1, 1]
    const b = writeWeight(c, 'bias');
    const body = (x: string) => {
      const depthwise = conv(c, x, dwk, undefined, [kh, kw], cin);
      return c.g.op('Conv', b ? [depthwise, pw.name, b.name] : [depthwise, pw.name], [intsAttr('kernel_shape', [1, 1])]);
    };
    fused(c, channelsFirst(c, body));
  },
  MaxPooling1D: pool('MaxPool', 1),
  MaxPooling2D: pool('MaxPool', 2),
  AveragePooling1D: pool('AveragePool', 1),
  AveragePooling2D: pool('AveragePool', 2),
  GlobalAveragePooling1D: (c) => globalPool(c, 'ReduceMean'),
  GlobalAveragePooling2D: (c) => globalPool(c, 'ReduceMean'),
  GlobalMaxPooling1D: (c) => globalPool(c, 'ReduceMax'),
  GlobalMaxPooling2D: (c) => globalPool(c, 'ReduceMax'),
  BatchNormalization: (c) => {
    const rank = c.inputShapes[0]!.length;
    const axisCfg = Number(c.config['axis'] ?? -1);
    const axis = axisCfg < 0 ? axisCfg + rank : axisCfg;
    const channels = c.inputShapes[0]![axis] as number;
    const param = (suffix: string, dflt: number) => writeWeight(c, suffix)?.name ?? c.g.floats(`${c.n.layer.name}/${suffix}`, [channels], new Array(channels).fill(dflt));
    const ins = (x: string) => [x, param('gamma', 1), param('beta', 0), param('moving_mean', 0), param('moving_variance', 1)];
    const attrs = [floatAttr('epsilon', Number(c.config['epsilon'] ?? 1e-3))];
    if (axis === 1) c.g.op('BatchNormalization', ins(c.inputs[0]!), attrs, c.out);
    else if (axis === rank - 1) channelsFirst({ ...c, config: {} }, (x) => c.g.op('BatchNormalization', ins(x), attrs), c.out);
    else throw new CapabilityError(`Layer '${c.n.name}' normalises axis ${axisCfg} of a rank-${rank} tensor; the ONNX export handles the channel axis (first or last)`, { layer: c.n.name });
  },
  LayerNormalization: (c) => {
    const rank = c.inputShapes[0]!.length;
    const axes = asList(c.config['axis'] ?? -1, 1).map((a) => (a < 0 ? a + rank : a));
    const from = Math.min(...axes);
    if (axes.length !== rank - from) throw new CapabilityError(`Layer '${c.n.name}' normalises axes ${JSON.stringify(c.config['axis'])}; the ONNX export handles trailing axes`, { layer: c.n.name });
    const dims = c.inputShapes[0]!.slice(from) as number[];
    const size = dims.reduce((a, b) => a * b, 1);
    const param = (suffix: string, dflt: number) => writeWeight(c, suffix)?.name ?? c.g.floats(`${c.n.layer.name}/${suffix}`, dims, new Array(size).fill(dflt));
    c.g.op('LayerNormalization', [c.inputs[0]!, param('gamma', 1), param('beta', 0)], [intAttr('axis', from), floatAttr('epsilon', Number(c.config['epsilon'] ?? 1e-3))], c.out);
  },
  Embedding: (c) => {
    const w = writeWeight(c, 'embeddings')!;
    c.g.op('Gather', [w.name, c.g.op('Cast', [c.inputs[0]!], [intAttr('to', INT64)])], [intAttr('axis', 0)], c.out);
  },
  Activation: (c) => void activation(c, c.n.layer.activation?.getClassName() ?? String(c.config['activation']), c.inputs[0]!, c.out),
  ReLU: (c) => {
    const max = c.config['maxValue'];
    if (max === null || max === undefined) c.g.op('Relu', [c.inputs[0]!], [], c.out);
    else c.g.op('Clip', [c.inputs[0]!, c.g.floats('attrib_export_scalar', [], [0]), c.g.floats('attrib_export_scalar', [], [Number(max)])], [], c.out);
  },
  LeakyReLU: (c) => void c.g.op('LeakyRelu', [c.inputs[0]!], [floatAttr('alpha', Number(c.config['alpha'] ?? 0.3))], c.out),
  ELU: (c) => void c.g.op('Elu', [c.inputs[0]!], [floatAttr('alpha', Number(c.config['alpha'] ?? 1))], c.out),
  Softmax: (c) => void c.g.op('Softmax', [c.inputs[0]!], [intAttr('axis', Number(c.config['axis'] ?? -1))], c.out),
  Flatten: (c) => void c.g.op('Flatten', [c.inputs[0]!], [intAttr('axis', 1)], c.out),
  Reshape: (c) => void c.g.op('Reshape', [c.inputs[0]!, c.g.ints([0, ...(c.config['targetShape'] as number[])])], [], c.out),
  Permute: (c) => void c.g.op('Transpose', [c.inputs[0]!], [intsAttr('perm', [0, ...(c.config['dims'] as number[])])], c.out),
  ZeroPadding2D: (c) => {
    const p = c.config['padding'] as number[][];
    const [[t, b], [l, r]] = p as [[number, number], [number, number]];
    const pads = c.config['dataFormat'] === 'channelsFirst' ? [0, 0, t, l, 0, 0, b, r] : [0, t, l, 0, 0, b, r, 0];
    c.g.op('Pad', [c.inputs[0]!, c.g.ints(pads)], [], c.out);
  },
  Add: merge('Add'),
  Multiply: merge('Mul'),
  Average: (c) => {
    const sum = c.g.op('Sum', [...c.inputs]);
    c.g.op('Mul', [sum, c.g.floats('attrib_export_scalar', [], [1 / c.inputs.length])], [], c.out);
  },
  Concatenate: (c) => void c.g.op('Concat', [...c.inputs], [intAttr('axis', Number(c.config['axis'] ?? -1))], c.out),
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

function convLayer(c: LayerContext, dims: 1 | 2): void {
  // kernel [k…, in/g, out] → ONNX [out, in/g, k…]
  const w = writeWeight(c, 'kernel', dims === 1 ? [2, 1, 0] : [3, 2, 0, 1])!;
  const b = writeWeight(c, 'bias');
  const group = Number(c.config['groups'] ?? 1);
  fused(c, channelsFirst(c, (x) => conv(c, x, w.name, b?.name, w.dims.slice(2), group)));
}

/** Global pooling over the spatial axes of a channels-last tensor (first maximum, like the TF.js engine). */
function globalPool(c: LayerContext, type: 'ReduceMean' | 'ReduceMax'): void {
  const rank = c.inputShapes[0]!.length;
  if (c.config['dataFormat'] === 'channelsFirst') {
    throw new CapabilityError(`Layer '${c.n.name}' pools channels-first data; the ONNX export handles channels-last`, { layer: c.n.name });
  }
  if (type === 'ReduceMean') {
    c.g.op('ReduceMean', [c.inputs[0]!], [intsAttr('axes', range(1, rank - 1)), intAttr('keepdims', 0)], c.out);
    return;
  }
  // one max axis: [N, S, C] then ReduceMax over S (row-major order of the spatial positions)
  const channels = c.inputShapes[0]![rank - 1] as number;
  const flat = rank === 3 ? c.inputs[0]! : c.g.op('Reshape', [c.inputs[0]!, c.g.ints([0, -1, channels])]);
  c.g.op('ReduceMax', [flat], [intsAttr('axes', [1]), intAttr('keepdims', 0)], c.out);
}
