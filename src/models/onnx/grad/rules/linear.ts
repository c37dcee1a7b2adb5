// VJP rules of linear layers (Gemm, MatMul, Conv, ConvTranspose) and normalisations.
import { attrInt, attrInts, intsAttr, intAttr, floatAttr, node } from '../../graph/build.js';
import { attrOrEmpty, mulAll, normalizationBack, normAxis, op, sumTo, unsupported, type VjpRule } from './common.js';

export const LINEAR_RULES: Readonly<Record<string, VjpRule>> = {
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
    // dA = dY · Bᵀ and dB = Aᵀ · dY over the last two axes, summed over broadcast batch axes
    const [a, b] = n.input!;
    const [as, bs, ys] = [ctx.shape(a!), ctx.shape(b!), ctx.shape(n.output![0]!)];
    if (as.length < 2 || bs.length < 2) throw unsupported(n, 'a 1-D operand');
    const swapLast = (t: string, rank: number): string => op(ctx, 'Transpose', [t], [intsAttr('perm', [...Array(rank - 2).keys(), rank - 1, rank - 2])]);
    const lead = ys.slice(0, -2);
    const da = ctx.onPath(a!) ? sumTo(n, op(ctx, 'MatMul', [dy, swapLast(b!, bs.length)]), [...lead, ...as.slice(-2)], a!, ctx) : undefined;
    const db = ctx.onPath(b!) ? sumTo(n, op(ctx, 'MatMul', [swapLast(a!, as.length), dy]), [...lead, ...bs.slice(-2)], b!, ctx) : undefined;
    return [da, db];
  },

  LayerNormalization: (n, dy, ctx) => {
    // x̂ = (x − μ)·r with r = 1/√(σ² + ε) over axes [axis, rank): dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ
    const [x, scale, bias] = n.input!;
    if ([scale, bias].some((t) => t && ctx.onPath(t))) throw unsupported(n, 'gradients with respect to the scale or bias');
    const xs = ctx.shape(x!);
    const axis = normAxis(attrInt(n, 'axis', -1), xs.length);
    const eps = (n.attribute ?? []).find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const axes = xs.map((_, i) => i).filter((i) => i >= axis);
    const count = axes.reduce((acc, a) => acc * xs[a]!, 1);
    return [normalizationBack(ctx, x!, mulAll(ctx, dy, scale!), axes, count, eps), undefined, undefined];
  },

  InstanceNormalization: (n, dy, ctx) => {
    // a normalisation over the spatial axes of each (row, channel), scale per channel
    const [x, scale, bias] = n.input!;
    if ([scale, bias].some((t) => t && ctx.onPath(t))) throw unsupported(n, 'gradients with respect to the scale or bias');
    const xs = ctx.shape(x!);
    const eps = (n.attribute ?? []).find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const axes = xs.map((_, i) => i).filter((i) => i >= 2);
    const count = axes.reduce((acc, a) => acc * xs[a]!, 1);
    const gamma = op(ctx, 'Reshape', [scale!, ctx.ints([-1, ...axes.map(() => 1)])]);
    return [normalizationBack(ctx, x!, mulAll(ctx, dy, gamma), axes, count, eps), undefined, undefined];
  },

  ConvTranspose: (n, dy, ctx) => {
    // the adjoint of a transposed convolution is the convolution with the same kernel and geometry
    const [x, w, b] = n.input!;
    if (ctx.onPath(w!) || (b !== undefined && b !== '' && ctx.onPath(b))) throw unsupported(n, 'gradients with respect to weights');
    if (!['', 'NOTSET'].includes(attrOrEmpty(n, 'auto_pad')) || attrInts(n, 'output_shape', []).length > 0) throw unsupported(n, 'auto_pad or output_shape');
    const spatial = ctx.shape(x!).length - 2;
    const k = attrInts(n, 'kernel_shape', ctx.shape(w!).slice(2) as number[]);
    const s = attrInts(n, 'strides', new Array(spatial).fill(1));
    const d = attrInts(n, 'dilations', new Array(spatial).fill(1));
    const p = attrInts(n, 'pads', new Array(2 * spatial).fill(0));
    const attrs = [intsAttr('kernel_shape', k), intsAttr('strides', s), intsAttr('dilations', d), intsAttr('pads', p), intAttr('group', attrInt(n, 'group', 1))];
    return [op(ctx, 'Conv', [dy, w!], attrs), undefined, undefined];
  },

  Conv: (n, dy, ctx) => {
    const [x, w, b] = n.input!;
    if (ctx.onPath(w!) || (b !== undefined && b !== '' && ctx.onPath(b))) throw unsupported(n, 'gradients with respect to weights');
    const xs = ctx.shape(x!);
    const ys = ctx.shape(n.output![0]!);
    const ws = ctx.shape(w!);
    const spatial = xs.length - 2;
    const k = attrInts(n, 'kernel_shape', ws.slice(2) as number[]);
    const s = attrInts(n, 'strides', new Array(spatial).fill(1));
    const d = attrInts(n, 'dilations', new Array(spatial).fill(1));
    const p = autoPads(attrOrEmpty(n, 'auto_pad') || 'NOTSET', xs.slice(2), ys.slice(2), k, s, d) ?? attrInts(n, 'pads', new Array(2 * spatial).fill(0));
    const g = attrInt(n, 'group', 1);
    // output_padding makes ConvTranspose reproduce the input's spatial size exactly
    const outPad = xs.slice(2).map((inD, i) => inD! - (s[i]! * (ys[2 + i]! - 1) + d[i]! * (k[i]! - 1) + 1 - p[i]! - p[i + spatial]!));
    const full = d.map((dd, i) => dd * (k[i]! - 1));
    if (g === 1 && s.every((v) => v === 1) && xs[1]! % 8 === 0 && p.every((v, i) => v <= full[i % spatial]!)) {
      // stride 1: a plain convolution with the kernel flipped and its channels swapped, padded by
      // d·(k−1) − p, runs in ORT's fast (NCHWc) Conv; ConvTranspose is ~2.5× slower there. Few
      // gradient channels (e.g. an RGB input) are faster as ConvTranspose (docs/onnx-backward-experiment.md).
      const swapped = op(ctx, 'Transpose', [w!], [intsAttr('perm', [1, 0, ...Array.from({ length: spatial }, (_, i) => i + 2)])]);
      const axes = Array.from({ length: spatial }, (_, i) => i + 2);
      const flipped = op(ctx, 'Slice', [swapped, ctx.ints(axes.map(() => -1)), ctx.ints(axes.map(() => -(2 ** 53))), ctx.ints(axes), ctx.ints(axes.map(() => -1))]);
      const pads = [...full.map((f, i) => f - p[i]!), ...full.map((f, i) => f - p[i + spatial]!)];
      return [op(ctx, 'Conv', [dy, flipped], [intsAttr('kernel_shape', k), intsAttr('dilations', d), intsAttr('pads', pads)]), undefined, undefined];
    }
    const dx = ctx.fresh('conv_dx');
    ctx.emit(
      node('ConvTranspose', [dy, w!], [dx], [intsAttr('kernel_shape', k), intsAttr('strides', s), intsAttr('dilations', d), intsAttr('pads', p), intAttr('group', g), intsAttr('output_padding', outPad)]),
    );
    return [dx, undefined, undefined];
  },

  BatchNormalization: (n, dy, ctx) => {
    // inference mode: y = scale · (x − mean) / √(var + ε) + B, so dx = dy · scale / √(var + ε) per channel
    const [x, scale, , , variance] = n.input!;
    if ([scale, variance].some((t) => ctx.onPath(t!))) throw unsupported(n, 'statistics that depend on the input');
    const eps = (n.attribute ?? []).find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const rank = ctx.shape(x!).length;
    const factor = op(ctx, 'Div', [scale!, op(ctx, 'Sqrt', [op(ctx, 'Add', [variance!, ctx.scalar(eps)])])]);
    const perChannel = op(ctx, 'Reshape', [factor, ctx.ints([-1, ...new Array(rank - 2).fill(1)])]);
    return [mulAll(ctx, dy, perChannel), undefined, undefined, undefined, undefined];
  },
};

/**
 * The explicit pads an `auto_pad` Conv used (ONNX: SAME_UPPER puts the odd one at the end,
 * SAME_LOWER at the start; VALID none), from the static input and output extents; undefined for NOTSET.
 */
export function autoPads(mode: string, inDims: readonly number[], outDims: readonly number[], k: readonly number[], s: readonly number[], d: readonly number[]): number[] | undefined {
  if (mode === 'NOTSET') return undefined;
  if (mode === 'VALID') return new Array<number>(2 * inDims.length).fill(0);
  const total = inDims.map((len, i) => Math.max(0, (outDims[i]! - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - len));
  const begin = total.map((t) => (mode === 'SAME_LOWER' ? Math.ceil(t / 2) : Math.floor(t / 2)));
  return [...begin, ...total.map((t, i) => t - begin[i]!)];
}
