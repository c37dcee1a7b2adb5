// One vector–Jacobian rule per ONNX op: given the cotangent of a node's output, emit standard ONNX
// nodes computing the cotangents of its inputs (see ../../../../../shared/notes/onnx-backward.md).
import { AttributionError } from '../../../core/errors.js';
import { attrInt, attrInts, intsAttr, intAttr, floatAttr, node } from '../graph/build.js';
import type { NodeProto } from '../graph/proto.js';

/** What a rule can ask of the compiler. */
export interface RuleContext {
  /** A fresh tensor name. */
  fresh(hint: string): string;
  /** Static shape of a tensor from the probe run (batch = 1). */
  shape(name: string): readonly number[];
  /** True when the tensor depends on the differentiated input (needs a cotangent). */
  onPath(name: string): boolean;
  /** Name of a float scalar 0 constant. */
  readonly zero: string;
  /** Rewrites a forward node (e.g. MaxPool gains an Indices output). */
  replaceForward(original: NodeProto, replacement: NodeProto): void;
  emit(n: NodeProto): void;
}

/** Returns the cotangent names of the node's inputs (undefined for inputs off the path). */
export type VjpRule = (n: NodeProto, dy: string, ctx: RuleContext) => (string | undefined)[];

const unsupported = (n: NodeProto, why: string): AttributionError =>
  new AttributionError('capability_missing', `ONNX op '${n.opType}' (node '${n.name}') has no gradient rule here: ${why}`, { details: { op: n.opType, node: n.name } });

const first = (n: NodeProto): string => n.input![0]!;

export const RULES: Readonly<Record<string, VjpRule>> = {
  Identity: (_n, dy) => [dy],
  Dropout: (_n, dy) => [dy],

  Relu: (n, dy, ctx) => {
    // mask from the Relu output (PyTorch: gradient 0 at exactly 0), so ORT can still fuse Conv+Relu
    const y = n.output![0]!;
    const pos = ctx.fresh('relu_pos');
    const dx = ctx.fresh('relu_dx');
    ctx.emit(node('Greater', [y, ctx.zero], [pos]));
    ctx.emit(node('Where', [pos, dy, ctx.zero], [dx]));
    return [dx];
  },

  Transpose: (n, dy, ctx) => {
    const perm = attrInts(n, 'perm', []);
    const inv = perm.map((_, i) => perm.indexOf(i));
    const dx = ctx.fresh('transpose_dx');
    ctx.emit(node('Transpose', [dy], [dx], [intsAttr('perm', inv)]));
    return [dx];
  },

  Flatten: (n, dy, ctx) => reshapeBack(n, dy, ctx),
  Reshape: (n, dy, ctx) => [...reshapeBack(n, dy, ctx), undefined],
  Squeeze: (n, dy, ctx) => [...reshapeBack(n, dy, ctx), undefined],
  Unsqueeze: (n, dy, ctx) => [...reshapeBack(n, dy, ctx), undefined],

  Gemm: (n, dy, ctx) => {
    const [a, b, c] = n.input!;
    if (attrInt(n, 'transA', 0) !== 0) throw unsupported(n, 'transA = 1');
    if (ctx.onPath(b!) || (c !== undefined && c !== '' && ctx.onPath(c))) throw unsupported(n, 'gradients with respect to weights');
    const alpha = (n.attribute ?? []).find((x) => x.name === 'alpha')?.f ?? 1;
    const transB = attrInt(n, 'transB', 0);
    // dA = α · dY · op(B)ᵀ = Gemm(dY, B, transB = 1 − transB)
    const da = ctx.fresh('gemm_da');
    ctx.emit(node('Gemm', [dy, b!], [da], [floatAttr('alpha', alpha), intAttr('transB', 1 - transB)]));
    return [da, undefined, undefined];
  },

  MatMul: (n, dy, ctx) => {
    const [a, b] = n.input!;
    if (ctx.onPath(b!)) throw unsupported(n, 'both operands depend on the input');
    if (ctx.shape(b!).length !== 2) throw unsupported(n, 'a constant operand of rank ≠ 2');
    const bt = ctx.fresh('matmul_bt');
    const da = ctx.fresh('matmul_da');
    ctx.emit(node('Transpose', [b!], [bt], [intsAttr('perm', [1, 0])]));
    ctx.emit(node('MatMul', [dy, bt], [da]));
    void a;
    return [da, undefined];
  },

  Add: (n, dy, ctx) => n.input!.map((x) => (ctx.onPath(x) ? unbroadcast(n, x, dy, ctx) : undefined)),

  Conv: (n, dy, ctx) => {
    const [x, w, b] = n.input!;
    if (ctx.onPath(w!) || (b !== undefined && b !== '' && ctx.onPath(b))) throw unsupported(n, 'gradients with respect to weights');
    if (String(attrOrEmpty(n, 'auto_pad')) !== '' && String(attrOrEmpty(n, 'auto_pad')) !== 'NOTSET') throw unsupported(n, 'auto_pad');
    const xs = ctx.shape(x!);
    const ys = ctx.shape(n.output![0]!);
    const ws = ctx.shape(w!);
    const spatial = xs.length - 2;
    const k = attrInts(n, 'kernel_shape', ws.slice(2) as number[]);
    const s = attrInts(n, 'strides', new Array(spatial).fill(1));
    const d = attrInts(n, 'dilations', new Array(spatial).fill(1));
    const p = attrInts(n, 'pads', new Array(2 * spatial).fill(0));
    const g = attrInt(n, 'group', 1);
    // output_padding makes ConvTranspose reproduce the input's spatial size exactly
    const op = xs.slice(2).map((inD, i) => inD! - (s[i]! * (ys[2 + i]! - 1) + d[i]! * (k[i]! - 1) + 1 - p[i]! - p[i + spatial]!));
    const dx = ctx.fresh('conv_dx');
    ctx.emit(
      node('ConvTranspose', [dy, w!], [dx], [intsAttr('kernel_shape', k), intsAttr('strides', s), intsAttr('dilations', d), intsAttr('pads', p), intAttr('group', g), intsAttr('output_padding', op)]),
    );
    return [dx, undefined, undefined];
  },

  MaxPool: (n, dy, ctx) => {
    const x = first(n);
    const xs = ctx.shape(x);
    const spatial = xs.length - 2;
    const k = attrInts(n, 'kernel_shape', []);
    const s = attrInts(n, 'strides', new Array(spatial).fill(1));
    const p = attrInts(n, 'pads', new Array(2 * spatial).fill(0));
    const tiled = k.every((kk, i) => kk === s[i]) && p.every((v) => v === 0) && attrInt(n, 'ceil_mode', 0) === 0 && attrInts(n, 'dilations', []).every((v) => v === 1);
    if (!tiled) throw unsupported(n, 'overlapping, padded or dilated windows (scatter-add routing is not built yet)');
    // forward MaxPool also returns the arg-max Indices (first maximum on ties, like PyTorch)
    const indices = n.output![1] && n.output![1] !== '' ? n.output![1] : ctx.fresh('maxpool_idx');
    if (indices !== n.output![1]) ctx.replaceForward(n, { ...n, output: [n.output![0]!, indices] });
    const shp = ctx.fresh('maxpool_shape');
    const dx = ctx.fresh('maxpool_dx');
    ctx.emit(node('Shape', [x], [shp]));
    ctx.emit(node('MaxUnpool', [dy, indices, shp], [dx], [intsAttr('kernel_shape', k), intsAttr('strides', s)]));
    return [dx];
  },
};

function attrOrEmpty(n: NodeProto, name: string): string {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : '';
}

/** dX = Reshape(dY, Shape(X)): the backward of every pure reshape. */
function reshapeBack(n: NodeProto, dy: string, ctx: RuleContext): [string] {
  const shp = ctx.fresh('shape');
  const dx = ctx.fresh('reshape_dx');
  ctx.emit(node('Shape', [first(n)], [shp]));
  ctx.emit(node('Reshape', [dy, shp], [dx]));
  return [dx];
}

/** The cotangent of an elementwise operand: dY summed over the axes the operand was broadcast along. */
function unbroadcast(n: NodeProto, x: string, dy: string, ctx: RuleContext): string {
  const xs = ctx.shape(x);
  const ys = ctx.shape(n.output![0]!);
  if (xs.length === ys.length && xs.every((d, i) => d === ys[i])) return dy;
  const lead = ys.length - xs.length;
  const axes = ys.map((d, i) => i).filter((i) => i < lead || (xs[i - lead] === 1 && ys[i] !== 1));
  if (axes.includes(0)) throw unsupported(n, 'an operand broadcast along the batch dimension');
  const summed = ctx.fresh('unbroadcast_sum');
  const axesName = ctx.fresh('unbroadcast_axes');
  ctx.emit({ ...node('Constant', [], [axesName]), attribute: [{ name: 'value', type: 4, t: { dims: [axes.length], dataType: 7, rawData: new Uint8Array(BigInt64Array.from(axes.map(BigInt)).buffer) } }] });
  ctx.emit(node('ReduceSum', [dy, axesName], [summed], [intAttr('keepdims', 1)]));
  const shp = ctx.fresh('unbroadcast_shape');
  const dx = ctx.fresh('unbroadcast_dx');
  ctx.emit(node('Shape', [x], [shp]));
  ctx.emit(node('Reshape', [summed, shp], [dx]));
  return dx;
}
