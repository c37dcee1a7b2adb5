// One ONNX conversion per GraphDef op of a TF.js graph model (see from-graph.ts). Tensors stay in
// TF.js's NHWC layout between ops; convolutions, pooling and resizing transpose to NCHW around the
// ONNX op (ORT's optimizer cancels the transposes between consecutive ones).
import { floatAttr, intAttr, intsAttr, permute } from '../graph/build.js';
import { onnx } from '../graph/proto.js';
import { stridedSlice } from './graph-slice.js';
import { constInput, refuse, type OpContext } from './graph-context.js';

const INT64 = onnx.TensorProto.DataType.INT64;
const NCHW = [0, 3, 1, 2];
const NHWC = [0, 2, 3, 1];

const str = (c: OpContext, key: string, dflt = ''): string => String(c.attr(key) ?? dflt).toLowerCase();
const nums = (c: OpContext, key: string, dflt: number[]): number[] => {
  const v = c.attr(key);
  return Array.isArray(v) && v.length > 0 ? v.map(Number) : dflt;
};
const scalar = (c: OpContext, v: number): string => c.g.floats('attrib_export_scalar', [], [v]);

function nhwcOnly(c: OpContext): void {
  const f = str(c, 'dataFormat', 'nhwc');
  if (f !== 'nhwc') refuse(c, `uses data format '${f}' (the export writes NHWC)`);
}

/** ONNX pads [top, left, bottom, right] for TF padding on an NHWC input. */
function pads2d(c: OpContext, kernel: number[], strides: number[], dilations: number[]): number[] {
  const pad = str(c, 'pad', 'valid');
  if (pad === 'valid') return [0, 0, 0, 0];
  if (pad === 'explicit') {
    const e = nums(c, 'explicitPaddings', []);
    if (e.length !== 8) refuse(c, 'has malformed explicit paddings');
    return [e[2]!, e[4]!, e[3]!, e[5]!];
  }
  if (pad !== 'same') refuse(c, `uses padding '${pad}'`);
  const spatial = c.shape(0).slice(1, 3);
  if (spatial.some((d) => d === null)) refuse(c, 'has dynamic spatial dims with SAME padding');
  const total = (spatial as number[]).map((d, i) => Math.max((Math.ceil(d / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - d, 0));
  return [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))];
}

/** `body` on input 0 in NCHW layout, its result back in NHWC (named `out` when given). */
function inNchw(c: OpContext, body: (x: string) => string, out?: string): string {
  const x = c.g.op('Transpose', [c.input(0)], [intsAttr('perm', NCHW)]);
  return c.g.op('Transpose', [body(x)], [intsAttr('perm', NHWC)], out);
}

/** A float filter constant permuted to ONNX layout (`perm`), reshaped to `dims` when given. */
function filter(c: OpContext, i: number, perm: number[], dims?: number[]): { name: string; dims: number[] } {
  const w = c.constant(i);
  if (!w || w.batch2 || w.dtype !== 'float32') refuse(c, 'has a filter that is not a constant float tensor');
  const permuted = perm.map((p) => w.shape[p]!);
  const outDims = dims ?? permuted;
  return { name: c.g.floats(`${c.node.name}/filter`, outDims, permute(w.values, w.shape, perm)), dims: outDims };
}

/** Conv2D / DepthwiseConv2dNative, fused or not: NCHW Conv with bias, then the fused activation. */
function convolution(depthwise: boolean, fused: boolean) {
  return (c: OpContext): void => {
    nhwcOnly(c);
    const strides = nums(c, 'strides', [1, 1, 1, 1]).slice(1, 3);
    const dilations = nums(c, 'dilations', [1, 1, 1, 1]).slice(1, 3);
    let w: { name: string; dims: number[] };
    let group = 1;
    if (depthwise) {
      // [kh, kw, in, mult] → [in·mult, 1, kh, kw], group = in
      const raw = c.constant(1);
      if (!raw) refuse(c, 'has a filter that is not a constant float tensor');
      const [kh, kw, cin, mult] = raw.shape as [number, number, number, number];
      w = filter(c, 1, [2, 3, 0, 1], [cin * mult, 1, kh, kw]);
      group = cin;
    } else {
      w = filter(c, 1, [3, 2, 0, 1]); // HWIO → OIHW
    }
    const kernel = w.dims.slice(2);
    const pads = pads2d(c, kernel, strides, dilations);
    const ops = fused ? (c.attr('fusedOps') as string[] | undefined ?? []).map((s) => String(s).toLowerCase()) : [];
    const hasBias = ops[0] === 'biasadd';
    if (ops.length > 0 && !hasBias) refuse(c, `fuses '${ops[0]}' (the export writes BiasAdd and an activation)`);
    const bias = hasBias ? c.input(2) : undefined;
    const attrs = [intsAttr('kernel_shape', kernel), intsAttr('strides', strides), intsAttr('dilations', dilations), intsAttr('pads', pads), intAttr('group', group)];
    const act = ops[1];
    const y = inNchw(c, (x) => c.g.op('Conv', bias ? [x, w.name, bias] : [x, w.name], attrs), act ? undefined : c.out);
    if (act) activation(c, act, y, 3);
  };
}

/** The fused activation `name` on `x`, written as the node's output; PReLU's alpha is input `alphaAt`. */
function activation(c: OpContext, name: string, x: string, alphaAt: number): void {
  const g = c.g;
  switch (name) {
    case 'relu':
      return void g.op('Relu', [x], [], c.out);
    case 'relu6':
      return void g.op('Clip', [x, scalar(c, 0), scalar(c, 6)], [], c.out);
    case 'elu':
      return void g.op('Elu', [x], [floatAttr('alpha', 1)], c.out);
    case 'selu':
      return void g.op('Selu', [x], [], c.out);
    case 'sigmoid':
      return void g.op('Sigmoid', [x], [], c.out);
    case 'tanh':
      return void g.op('Tanh', [x], [], c.out);
    case 'leakyrelu':
      return void g.op('LeakyRelu', [x], [floatAttr('alpha', Number(c.attr('leakyreluAlpha') ?? c.attr('alpha') ?? 0.2))], c.out);
    case 'prelu':
      return void g.op('PRelu', [x, c.input(alphaAt)], [], c.out);
    default:
      refuse(c, `fuses activation '${name}'`);
  }
}

function pool(type: 'MaxPool' | 'AveragePool') {
  return (c: OpContext): void => {
    nhwcOnly(c);
    const kernel = nums(c, 'kernelSize', [1, 1, 1, 1]);
    const strides = nums(c, 'strides', [1, 1, 1, 1]);
    if (kernel[0] !== 1 || kernel[3] !== 1 || strides[0] !== 1 || strides[3] !== 1) refuse(c, 'pools over the batch or channel axis');
    const [k, s] = [kernel.slice(1, 3), strides.slice(1, 3)];
    const pads = pads2d(c, k, s, [1, 1]);
    const attrs = [intsAttr('kernel_shape', k), intsAttr('strides', s)];
    if (type === 'MaxPool' || pads.every((p) => p === 0)) return void inNchw(c, (x) => c.g.op(type, [x], [...attrs, intsAttr('pads', pads)]), c.out);
    // TF averages the valid elements of a padded window: zero-pad, average whole windows, rescale
    // each output by window size / valid count (the backward compiler differentiates unpadded windows)
    const [h, w] = c.shape(0).slice(1, 3) as [number, number];
    const valid = (d: number, i: number, pb: number) => Math.min(i * s[d]! + k[d]!, pb + (d === 0 ? h : w)) - Math.max(i * s[d]!, pb);
    const [oh, ow] = [Math.floor((h + pads[0]! + pads[2]! - k[0]!) / s[0]!) + 1, Math.floor((w + pads[1]! + pads[3]! - k[1]!) / s[1]!) + 1];
    const scale = Array.from({ length: oh * ow }, (_, o) => (k[0]! * k[1]!) / (valid(0, Math.floor(o / ow), pads[0]!) * valid(1, o % ow, pads[1]!)));
    const factor = c.g.floats(`${c.node.name}/count`, [1, 1, oh, ow], scale);
    inNchw(c, (x) => c.g.op('Mul', [c.g.op(type, [c.g.op('Pad', [x, c.g.ints([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])])], attrs), factor]), c.out);
  };
}

const unary = (type: string) => (c: OpContext): void => void c.g.op(type, [c.input(0)], [], c.out);
const binary = (type: string) => (c: OpContext): void => void c.g.op(type, [c.input(0), c.input(1)], [], c.out);
const fusedAct = (name: string) => (c: OpContext): void => activation(c, name, c.input(0), 1);

/** Axes from constant input i, made non-negative for the rank of input 0. */
function axesOf(c: OpContext, i: number): number[] {
  const rank = c.shape(0).length;
  return constInput(c, i, 'axis').values.map((a) => (a < 0 ? a + rank : a));
}

function reduce(type: 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceMin') {
  return (c: OpContext): void => {
    const axes = axesOf(c, 1);
    const keep = c.attr('keepDims') === true ? 1 : 0;
    if (axes.length === 0) return void c.g.op('Identity', [c.input(0)], [], c.out);
    // opset 17: ReduceSum takes its axes as an input, ReduceMean/ReduceMax as an attribute
    if (type === 'ReduceSum') c.g.op(type, [c.input(0), c.g.ints(axes)], [intAttr('keepdims', keep)], c.out);
    else if ((type === 'ReduceMax' || type === 'ReduceMin') && axes.length > 1) {
      // a max (min) over several axes as one per axis (the backward compiler differentiates single-axis maxima)
      const y = axes.reduce((acc, a) => c.g.op(type, [acc], [intsAttr('axes', [a]), intAttr('keepdims', 1)]), c.input(0));
      if (keep) c.g.op('Identity', [y], [], c.out);
      else c.g.op('Squeeze', [y, c.g.ints(axes)], [], c.out);
    }
    else c.g.op(type, [c.input(0)], [intsAttr('axes', axes), intAttr('keepdims', keep)], c.out);
  };
}

function resize(mode: 'linear' | 'nearest') {
  return (c: OpContext): void => {
    const [, h, w] = c.shape(0);
    const size = constInput(c, 1, 'size').values;
    if (h === null || w === null || h === undefined || w === undefined) refuse(c, 'resizes dynamic spatial dims');
    const align = c.attr('alignCorners') === true;
    const half = c.attr('halfPixelCenters') === true;
    const coord = align ? 'align_corners' : half ? (mode === 'nearest' ? 'tf_half_pixel_for_nn' : 'half_pixel') : 'asymmetric';
    const attrs = [{ name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(mode) }, { name: 'coordinate_transformation_mode', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(coord) }];
    if (mode === 'nearest') attrs.push({ name: 'nearest_mode', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(align ? 'round_prefer_ceil' : 'floor') });
    const scales = c.g.floats('attrib_export_scales', [4], [1, 1, size[0]! / h, size[1]! / w]);
    inNchw(c, (x) => c.g.op('Resize', [x, '', scales], attrs), c.out);
  };
}

/** Reshape's target: constant, or with the batch size (1 then 2 in the probes) at index 0 written as ONNX's 0 (copy). */
function reshape(c: OpContext): void {
  const t = c.constant(1);
  if (!t) refuse(c, 'needs a constant target shape');
  let dims = [...t.values];
  if (t.batch2) {
    const ok = t.batch2.length === dims.length && dims[0] === 1 && t.batch2[0] === 2 && dims.every((d, i) => i === 0 || d === t.batch2![i]);
    if (!ok) refuse(c, 'has a target shape that depends on the batch size other than through its first dim');
    dims = [0, ...dims.slice(1)];
  }
  c.g.op('Reshape', [c.input(0), c.g.ints(dims)], [], c.out);
}

function pad(mirror: boolean) {
  return (c: OpContext): void => {
    const p = constInput(c, 1, 'paddings').values;
    const rank = p.length / 2;
    const pads = [...Array.from({ length: rank }, (_, i) => p[2 * i]!), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!)];
    const mode = mirror ? str(c, 'mode', 'reflect') : 'constant';
    if (mode !== 'constant' && mode !== 'reflect') refuse(c, `pads in mode '${mode}'`);
    const ins = [c.input(0), c.g.ints(pads)];
    const value = mirror ? undefined : c.node.op === 'PadV2' ? c.input(2) : Number(c.attr('constantValue') ?? 0) !== 0 ? scalar(c, Number(c.attr('constantValue'))) : undefined;
    if (value) ins.push(value);
    c.g.op('Pad', ins, [{ name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(mode) }], c.out);
  };
}

function matmul(fused: boolean) {
  return (c: OpContext): void => {
    // transpose_a/b (adj_x/adj_y of BatchMatMul) swap the last two axes
    const swapLast = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
    const t = (i: number, flag: string) => (c.attr(flag) === true ? c.g.op('Transpose', [c.input(i)], [intsAttr('perm', swapLast(c.shape(i).length))]) : c.input(i));
    const ops = fused ? (c.attr('fusedOps') as string[] | undefined ?? []).map((s) => String(s).toLowerCase()) : [];
    if (ops.length > 0 && ops[0] !== 'biasadd') refuse(c, `fuses '${ops[0]}' (the export writes BiasAdd and an activation)`);
    const act = ops[1];
    let y = c.g.op('MatMul', [t(0, 'transposeA'), t(1, 'transposeB')], [], ops.length === 0 ? c.out : undefined);
    if (ops[0] === 'biasadd') y = c.g.op('Add', [y, c.input(2)], [], act ? undefined : c.out);
    if (act) activation(c, act, y, 3);
  };
}

/** FusedBatchNorm(V3) in inference form: x · a + b with a = scale/√(var+ε), b = offset − mean · a. */
function batchNorm(c: OpContext): void {
  nhwcOnly(c);
  const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => constInput(c, i, 'batch-norm parameter').values);
  const eps = Number(c.attr('epsilon') ?? 1e-3);
  const a = scale!.map((s, i) => s / Math.sqrt(variance![i]! + eps));
  const b = offset!.map((o, i) => o - mean![i]! * a[i]!);
  const y = c.g.op('Mul', [c.input(0), c.g.floats(`${c.node.name}/scale`, [a.length], a)]);
  c.g.op('Add', [y, c.g.floats(`${c.node.name}/offset`, [b.length], b)], [], c.out);
}

function cast(c: OpContext): void {
  const to = String(c.attr('dtype') ?? 'float32');
  if (to === 'float32') c.g.op('Identity', [c.input(0)], [], c.out);
  else if (to === 'int32') c.g.op('Cast', [c.input(0)], [intAttr('to', INT64)], c.out);
  else refuse(c, `casts to ${to}`);
}

function concat(c: OpContext): void {
  const rank = c.shape(0).length;
  const axis = constInput(c, c.arity - 1, 'axis').values[0]!;
  c.g.op('Concat', Array.from({ length: c.arity - 1 }, (_, i) => c.input(i)), [intAttr('axis', axis < 0 ? axis + rank : axis)], c.out);
}

function squeeze(c: OpContext): void {
  const shape = c.shape(0);
  let axes = nums(c, 'axis', []).map((a) => (a < 0 ? a + shape.length : a));
  if (axes.length === 0) axes = shape.flatMap((d, i) => (d === 1 ? [i] : []));
  c.g.op('Squeeze', [c.input(0), c.g.ints(axes)], [], c.out);
}

function expandDims(c: OpContext): void {
  const rank = c.shape(0).length;
  const a = constInput(c, 1, 'axis').values[0]!;
  c.g.op('Unsqueeze', [c.input(0), c.g.ints([a < 0 ? a + rank + 1 : a])], [], c.out);
}

function pack(c: OpContext): void {
  const rank = c.shape(0).length;
  const a = Number(c.attr('axis') ?? 0);
  const axis = a < 0 ? a + rank + 1 : a;
  const parts = Array.from({ length: c.arity }, (_, i) => c.g.op('Unsqueeze', [c.input(i), c.g.ints([axis])]));
  c.g.op('Concat', parts, [intAttr('axis', axis)], c.out);
}

/** Slice(x, begin, size) with constant begin and size (size −1: to the end). */
function slice(c: OpContext): void {
  const begin = constInput(c, 1, 'begin').values;
  const size = constInput(c, 2, 'size').values;
  const ends = size.map((s, i) => (s < 0 ? 2 ** 31 - 1 : begin[i]! + s));
  c.g.op('Slice', [c.input(0), c.g.ints(begin), c.g.ints(ends), c.g.ints(begin.map((_, i) => i))], [], c.out);
}

function gather(c: OpContext): void {
  if (Number(c.attr('batchDims') ?? 0) !== 0) refuse(c, 'gathers with batch_dims');
  const rank = c.shape(0).length;
  const a = constInput(c, 2, 'axis').values[0]!;
  c.g.op('Gather', [c.input(0), c.input(1)], [intAttr('axis', a < 0 ? a + rank : a)], c.out);
}

/** Ops with several outputs: output k is written as the ONNX tensor `node:k` (output 0 as `node`). */
export const MULTI_OUTPUT = new Set(['Split', 'SplitV', 'Unpack']);

const outputNames = (c: OpContext, n: number): string[] => Array.from({ length: n }, (_, k) => (k === 0 ? c.out : `${c.out}:${k}`));

/** Split / SplitV (constant axis and sizes; one −1 size takes the rest) as one ONNX Split. */
function split(v: boolean) {
  return (c: OpContext): void => {
    const xi = v ? 0 : 1;
    const shape = c.shape(xi);
    const a = constInput(c, v ? 2 : 0, 'axis').values[0]!;
    const axis = a < 0 ? a + shape.length : a;
    const dim = shape[axis];
    if (dim === null || dim === undefined || axis === 0) refuse(c, 'splits the batch or a dynamic axis');
    let sizes: number[];
    if (v) {
      sizes = [...constInput(c, 1, 'sizes').values];
      const known = sizes.filter((s) => s >= 0).reduce((p, q) => p + q, 0);
      sizes = sizes.map((s) => (s < 0 ? dim - known : s));
    } else {
      const n = Number(c.attr('numOrSizeSplits') ?? 1);
      if (!(n > 0) || dim % n !== 0) refuse(c, `splits a dim of ${dim} into ${n}`);
      sizes = new Array(n).fill(dim / n);
    }
    c.g.opOuts('Split', [c.input(xi), c.g.ints(sizes)], [intAttr('axis', axis)], outputNames(c, sizes.length));
  };
}

/** Unpack: a Split into size-1 pieces, each squeezed. */
function unpack(c: OpContext): void {
  const shape = c.shape(0);
  const a = Number(c.attr('axis') ?? 0);
  const axis = a < 0 ? a + shape.length : a;
  const dim = shape[axis];
  if (dim === null || dim === undefined || axis === 0) refuse(c, 'unpacks the batch or a dynamic axis');
  const pieces = Array.from({ length: dim }, (_, k) => `${c.out}/piece_${k}`);
  c.g.opOuts('Split', [c.input(0), c.g.ints(new Array(dim).fill(1))], [intAttr('axis', axis)], pieces);
  outputNames(c, dim).forEach((o, k) => c.g.op('Squeeze', [pieces[k]!, c.g.ints([axis])], [], o));
}

/** Every GraphDef op the exporter writes → its converter. */
export const GRAPH_OPS: Readonly<Record<string, (c: OpContext) => void>> = {
  Identity: unary('Identity'),
  StopGradient: unary('Identity'),
  Snapshot: unary('Identity'),
  Conv2D: convolution(false, false),
  _FusedConv2D: convolution(false, true),
  DepthwiseConv2dNative: convolution(true, false),
  DepthwiseConv2d: convolution(true, false),
  FusedDepthwiseConv2dNative: convolution(true, true),
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
  MatMul: matmul(false),
  _FusedMatMul: matmul(true),
  BiasAdd: binary('Add'),
  Add: binary('Add'),
  AddV2: binary('Add'),
  AddN: (c) => void c.g.op('Sum', Array.from({ length: c.arity }, (_, i) => c.input(i)), [], c.out),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Relu: fusedAct('relu'),
  Relu6: fusedAct('relu6'),
  Elu: fusedAct('elu'),
  Selu: fusedAct('selu'),
  LeakyRelu: fusedAct('leakyrelu'),
  Prelu: fusedAct('prelu'),
  Sigmoid: fusedAct('sigmoid'),
  Tanh: fusedAct('tanh'),
  Softmax: (c) => void c.g.op('Softmax', [c.input(0)], [intAttr('axis', -1)], c.out),
  LogSoftmax: (c) => void c.g.op('LogSoftmax', [c.input(0)], [intAttr('axis', -1)], c.out),
  Softplus: unary('Softplus'),
  Square: (c) => void c.g.op('Mul', [c.input(0), c.input(0)], [], c.out),
  Sqrt: unary('Sqrt'),
  Rsqrt: (c) => void c.g.op('Reciprocal', [c.g.op('Sqrt', [c.input(0)])], [], c.out),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Neg: unary('Neg'),
  Abs: unary('Abs'),
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: concat,
  Pack: pack,
  Pad: pad(false),
  PadV2: pad(false),
  MirrorPad: pad(true),
  Mean: reduce('ReduceMean'),
  Sum: reduce('ReduceSum'),
  Max: reduce('ReduceMax'),
  StridedSlice: stridedSlice,
  Transpose: (c) => void c.g.op('Transpose', [c.input(0)], [intsAttr('perm', constInput(c, 1, 'permutation').values)], c.out),
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
  Cast: cast,
  Split: split(false),
  SplitV: split(true),
  Unpack: unpack,
  BatchMatMul: matmul(false),
  BatchMatMulV2: matmul(false),
  Slice: slice,
  Tile: (c) => void c.g.op('Tile', [c.input(0), c.input(1)], [], c.out),
  GatherV2: gather,
  Min: reduce('ReduceMin'),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
  Erf: unary('Erf'),
  Floor: unary('Floor'),
  Round: unary('Round'),
  Sign: unary('Sign'),
  Reciprocal: unary('Reciprocal'),
  Pow: binary('Pow'),
  SquaredDifference: (c) => {
    const d = c.g.op('Sub', [c.input(0), c.input(1)]);
    c.g.op('Mul', [d, d], [], c.out);
  },
  ClipByValue: (c) => void c.g.op('Min', [c.g.op('Max', [c.input(0), c.input(1)]), c.input(2)], [], c.out),
  Log1p: (c) => void c.g.op('Log', [c.g.op('Add', [c.input(0), scalar(c, 1)])], [], c.out),
  Expm1: (c) => void c.g.op('Sub', [c.g.op('Exp', [c.input(0)]), scalar(c, 1)], [], c.out),
  FusedBatchNorm: batchNorm,
  FusedBatchNormV2: batchNorm,
  FusedBatchNormV3: batchNorm,
};
