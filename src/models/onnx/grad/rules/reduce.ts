// VJP rules of reductions and pooling.
import { attrInt, attrInts, intsAttr, intAttr, node } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';
import { first, mulAll, normAxis, op, unsupported, type RuleContext, type VjpRule } from './common.js';

export const REDUCE_RULES: Readonly<Record<string, VjpRule>> = {
  ReduceMax: (n, dy, ctx) => {
    // the whole cotangent goes to the FIRST maximum along the axis (PyTorch), never to every tie
    const x = first(n);
    const xs = ctx.shape(x);
    const axes = attrInts(n, 'axes', n.input![1] ? (ctx.constantInts(n.input![1]) ?? []) : []).map((a) => normAxis(a, xs.length));
    if (axes.length !== 1) throw unsupported(n, 'a max over several axes');
    const axis = axes[0]!;
    const mask = firstMaxMask(ctx, x, axis, xs[axis]!);
    const shaped = attrInt(n, 'keepdims', 1) === 1 ? dy : op(ctx, 'Unsqueeze', [dy, ctx.ints([axis])]);
    return [mulAll(ctx, mask, shaped), undefined];
  },
  GlobalMaxPool: (n, dy, ctx) => {
    const x = first(n);
    const xs = ctx.shape(x);
    const spatial = xs.slice(2).reduce((a, b) => a * b, 1);
    const flat = op(ctx, 'Reshape', [x, ctx.ints([0, 0, -1])]); // [N, C, S]
    const mask = firstMaxMask(ctx, flat, 2, spatial);
    const routed = mulAll(ctx, mask, op(ctx, 'Reshape', [dy, ctx.ints([0, 0, 1])]));
    return [op(ctx, 'Reshape', [routed, op(ctx, 'Shape', [x])])];
  },
  GlobalAveragePool: (n, dy, ctx) => {
    const xs = ctx.shape(first(n));
    const count = xs.slice(2).reduce((a, b) => a * b, 1);
    return [op(ctx, 'Expand', [mulAll(ctx, dy, ctx.scalar(1 / count)), op(ctx, 'Shape', [first(n)])])];
  },
  AveragePool: (n, dy, ctx) => {
    // the transposed depthwise convolution with a constant kernel 1/(kh·kw) (windows without padding)
    const x = first(n);
    const xs = ctx.shape(x);
    const ys = ctx.shape(n.output![0]!);
    const spatial = xs.length - 2;
    const k = attrInts(n, 'kernel_shape', []);
    const s = attrInts(n, 'strides', new Array(spatial).fill(1));
    if (attrInts(n, 'pads', []).some((v) => v !== 0) || attrInt(n, 'ceil_mode', 0) !== 0) throw unsupported(n, 'padded or ceil-mode windows');
    const c = xs[1]!;
    const size = k.reduce((a, b) => a * b, 1);
    const w = ctx.constantTensor([c, 1, ...k], new Array(c * size).fill(1 / size));
    const outPad = xs.slice(2).map((d, i) => d - (s[i]! * (ys[2 + i]! - 1) + k[i]!));
    return [op(ctx, 'ConvTranspose', [dy, w], [intsAttr('kernel_shape', k), intsAttr('strides', s), intAttr('group', c), intsAttr('output_padding', outPad)])];
  },
  ReduceSum: (n, dy, ctx) => reduceBack(n, dy, ctx, n.input![1], false),
  ReduceMean: (n, dy, ctx) => reduceBack(n, dy, ctx, n.input![1], true),
  MaxPool: (n, dy, ctx) => {
    const x = first(n);
    const xs = ctx.shape(x);
    const spatial = xs.length - 2;
    const k = attrInts(n, 'kernel_shape', []);
    const s = attrInts(n, 'strides', new Array(spatial).fill(1));
    const p = attrInts(n, 'pads', new Array(2 * spatial).fill(0));
    if (attrInt(n, 'storage_order', 0) !== 0) throw unsupported(n, 'column-major storage_order');
    const tiled = k.every((kk, i) => kk === s[i]) && p.every((v) => v === 0) && attrInt(n, 'ceil_mode', 0) === 0 && attrInts(n, 'dilations', []).every((v) => v === 1);
    // forward MaxPool also returns the arg-max Indices (first maximum on ties, like PyTorch), flat
    // over the whole unpadded NCHW tensor
    const indices = n.output![1] && n.output![1] !== '' ? n.output![1] : ctx.fresh('maxpool_idx');
    if (indices !== n.output![1]) ctx.replaceForward(n, { ...n, output: [n.output![0]!, indices] });
    const shp = op(ctx, 'Shape', [x]);
    if (tiled) {
      // non-overlapping windows: MaxUnpool is the cheapest router
      return [op(ctx, 'MaxUnpool', [dy, indices, shp], [intsAttr('kernel_shape', k), intsAttr('strides', s)])];
    }
    // overlapping or padded windows: scatter-add into zeros (MaxUnpool would overwrite shared elements)
    ctx.requireOpset(16);
    const size = op(ctx, 'ReduceProd', [shp], [intAttr('keepdims', 1)]);
    const zeros = ctx.fresh('maxpool_zeros');
    ctx.emit({ ...node('ConstantOfShape', [size], [zeros]), attribute: [{ name: 'value', type: 4, t: { dims: [1], dataType: 1, rawData: new Uint8Array(new Float32Array([0]).buffer) } }] });
    const flatIdx = op(ctx, 'Reshape', [indices, ctx.ints([-1])]);
    const flatDy = op(ctx, 'Reshape', [dy, ctx.ints([-1])]);
    const scattered = ctx.fresh('maxpool_scatter');
    ctx.emit({ ...node('ScatterElements', [zeros, flatIdx, flatDy], [scattered], [intAttr('axis', 0)]), attribute: [intAttr('axis', 0), { name: 'reduction', type: 3, s: new TextEncoder().encode('add') }] });
    return [op(ctx, 'Reshape', [scattered, shp])];
  },
};

/** The reduced axes of a Reduce* node (attribute or constant input; all when none), normalised. */
export function reducedAxes(n: NodeProto, ctx: RuleContext): number[] {
  const xs = ctx.shape(first(n));
  const axesInput = n.input![1];
  let axes = attrInts(n, 'axes', []);
  if (axesInput) {
    const known = ctx.constantInts(axesInput);
    if (!known) throw unsupported(n, 'axes computed at run time');
    axes = known;
  }
  if (axes.length === 0) axes = xs.map((_, i) => i);
  return axes.map((a) => normAxis(a, xs.length));
}

/** A reduction's output (or its cotangent) with the reduced axes back as size 1 (as with keepdims = 1). */
export const unreduce = (n: NodeProto, ctx: RuleContext, t: string, axes: readonly number[]): string => (attrInt(n, 'keepdims', 1) === 1 ? t : op(ctx, 'Unsqueeze', [t, ctx.ints(axes)]));

/** Backward of ReduceSum/ReduceMean: dy broadcast back over the reduced axes (÷ count for the mean). */
function reduceBack(n: NodeProto, dy: string, ctx: RuleContext, axesInput: string | undefined, mean: boolean): (string | undefined)[] {
  const x = first(n);
  const xs = ctx.shape(x);
  const axes = reducedAxes(n, ctx);
  const shaped = unreduce(n, ctx, dy, axes);
  const count = axes.reduce((acc, a) => acc * xs[a]!, 1);
  const scaled = mean ? mulAll(ctx, shaped, ctx.scalar(1 / count)) : shaped;
  const dx = op(ctx, 'Expand', [scaled, op(ctx, 'Shape', [x])]);
  return axesInput ? [dx, undefined] : [dx];
}

/** A float 0/1 mask of the first maximum of `x` along `axis` (ArgMax with select_last_index = 0, then OneHot). */
export function firstMaxMask(ctx: RuleContext, x: string, axis: number, depth: number): string {
  const idx = op(ctx, 'ArgMax', [x], [intAttr('axis', axis), intAttr('keepdims', 0), intAttr('select_last_index', 0)]);
  const values = ctx.constantTensor([2], [0, 1]);
  return op(ctx, 'OneHot', [idx, ctx.ints([depth]), values], [intAttr('axis', axis)]);
}
