// VJP rules of shape and indexing ops (reshapes, transposes, slices, pads, gathers, concatenation, casts).
import { attrInt, attrInts, intsAttr, intAttr, node } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';
import { attrOrEmpty, first, normAxis, op, unbroadcast, unsupported, type RuleContext, type VjpRule } from './common.js';
import { alongAxis } from './resize.js';

export const SHAPE_RULES: Readonly<Record<string, VjpRule>> = {
  Identity: (_n, dy) => [dy],
  Dropout: (_n, dy) => [dy],

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

  Expand: (n, dy, ctx) => [unbroadcast(n, first(n), dy, ctx), undefined],
  Where: (n, dy, ctx) => {
    const [c, a, b] = n.input!;
    const da = ctx.onPath(a!) ? unbroadcast(n, a!, op(ctx, 'Where', [c!, dy, ctx.zero]), ctx) : undefined;
    const db = ctx.onPath(b!) ? unbroadcast(n, b!, op(ctx, 'Where', [c!, ctx.zero, dy]), ctx) : undefined;
    return [undefined, da, db];
  },
  Slice: (n, dy, ctx) => {
    // steps of 1: the cotangent zero-padded back to the input's extent
    const [x, startsName, endsName, axesName, stepsName] = n.input!;
    const xs = ctx.shape(x!);
    const ints = (name: string | undefined, what: string): number[] | undefined => {
      if (!name) return undefined;
      const v = ctx.constantInts(name);
      if (!v) throw unsupported(n, `${what} computed at run time`);
      return v;
    };
    const starts = ints(startsName, 'starts')!;
    const ends = ints(endsName, 'ends')!;
    const axes = (ints(axesName, 'axes') ?? starts.map((_, i) => i)).map((a) => normAxis(a, xs.length));
    const steps = ints(stepsName, 'steps') ?? axes.map(() => 1);
    if (steps.some((v) => v !== 1)) {
      // strided or reversed: a one-hot [out, in] map per sliced axis (the slice is separable)
      let dx = dy;
      axes.forEach((a, i) => {
        if (ctx.batchAxes(x!).includes(a)) throw unsupported(n, `a strided slice of the batch dimension (axis ${a})`);
        const picked = slicedIndices(xs[a]!, starts[i]!, ends[i]!, steps[i]!);
        const m = new Array<number>(picked.length * xs[a]!).fill(0);
        picked.forEach((src, j) => (m[j * xs[a]! + src] = 1));
        dx = alongAxis(ctx, dx, m, picked.length, xs[a]!, a, xs.length);
      });
      return [dx, undefined, undefined, undefined, undefined];
    }
    const pads = new Array<number>(2 * xs.length).fill(0);
    axes.forEach((a, i) => {
      const dim = xs[a]!;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const [s, e] = [clamp(starts[i]!), clamp(ends[i]!)];
      if (ctx.batchAxes(x!).includes(a) && !(s === 0 && ends[i]! >= 2 ** 31 - 1)) throw unsupported(n, `a slice of the batch dimension (axis ${a})`);
      pads[a] = s;
      pads[a + xs.length] = dim - Math.max(e, s);
    });
    return [op(ctx, 'Pad', [dy, ctx.ints(pads)]), undefined, undefined, undefined, undefined];
  },

  Split: (n, _dy, ctx, dys) => {
    // the cotangents joined back (zeros for outputs nothing reads)
    const rank = ctx.shape(first(n)).length;
    const axis = normAxis(attrInt(n, 'axis', 0), rank);
    if (ctx.batchAxes(first(n)).includes(axis)) throw unsupported(n, `a split of the batch dimension (axis ${axis})`);
    const parts = n.output!.map((o, i) => dys[i] ?? op(ctx, 'ConstantOfShape', [op(ctx, 'Shape', [o])]));
    return [op(ctx, 'Concat', parts, [intAttr('axis', axis)]), undefined];
  },

  Pad: (n, dy, ctx) => {
    // constant padding: the cotangent cropped back to the input; reflect, edge and wrap: each padded
    // position also sends its cotangent to the element it copies (a one-hot [out, in] map per axis)
    const mode = attrOrEmpty(n, 'mode') || 'constant';
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw unsupported(n, `mode '${mode}'`);
    const [x, padsName, , axesName] = n.input!;
    const xs = ctx.shape(x!);
    const pads = padsName ? ctx.constantInts(padsName) : undefined;
    if (!pads) throw unsupported(n, 'pads computed at run time');
    const axes = axesName ? ctx.constantInts(axesName)?.map((a) => normAxis(a, xs.length)) : xs.map((_, i) => i);
    if (!axes) throw unsupported(n, 'axes computed at run time');
    const cropped = axes.filter((a, i) => pads[i] !== 0 || pads[i + axes.length] !== 0);
    if (pads.some((v) => v < 0)) throw unsupported(n, 'negative pads (cropping)');
    if (cropped.some((a) => ctx.batchAxes(x!).includes(a))) throw unsupported(n, 'padding of the batch dimension');
    if (cropped.length === 0) return [dy, undefined, undefined, undefined];
    if (mode !== 'constant') {
      let dx = dy;
      for (const a of cropped) {
        const [before, len] = [pads[axes.indexOf(a)]!, xs[a]!];
        const out = before + len + pads[axes.indexOf(a) + axes.length]!;
        const m = new Array<number>(out * len).fill(0);
        for (let j = 0; j < out; j++) m[j * len + sourceIndex(mode, j - before, len)] = 1;
        dx = alongAxis(ctx, dx, m, out, len, a, xs.length);
      }
      return [dx, undefined, undefined, undefined];
    }
    const begin = cropped.map((a) => pads[axes.indexOf(a)]!);
    const end = cropped.map((a, i) => begin[i]! + xs[a]!);
    return [op(ctx, 'Slice', [dy, ctx.ints(begin), ctx.ints(end), ctx.ints(cropped)]), undefined, undefined, undefined];
  },

  Gather: (n, dy, ctx) => {
    // dData[.., d, ..] = Σ_k [idx_k = d] · dY[.., k, ..]: a one-hot matrix [D, K] times dY seen as [pre, K, post]
    const [data, indices] = n.input!;
    const ds = ctx.shape(data!);
    const axis = normAxis(attrInt(n, 'axis', 0), ds.length);
    if (ctx.batchAxes(data!).includes(axis)) throw unsupported(n, 'gathering along the batch dimension (differentiate the embedding output instead)');
    const k = ctx.shape(indices!).reduce((a, b) => a * b, 1);
    const post = ds.slice(axis + 1).reduce((a, b) => a * b, 1);
    const flat = op(ctx, 'Reshape', [indices!, ctx.ints([-1])]);
    const oneHot = op(ctx, 'OneHot', [flat, ctx.ints([ds[axis]!]), ctx.constantTensor([2], [0, 1])], [intAttr('axis', 0)]);
    // dY as [pre, K, post]: the extent that follows the batch (before or after the axis) is left to Reshape
    const pre = ds.slice(0, axis).reduce((a, b) => a * b, 1);
    const view = ctx.batchAxes(data!).some((a) => a > axis) ? [pre, k, -1] : [-1, k, post];
    const routed = op(ctx, 'MatMul', [oneHot, op(ctx, 'Reshape', [dy, ctx.ints(view)])]);
    return [op(ctx, 'Reshape', [routed, op(ctx, 'Shape', [data!])]), undefined];
  },

  Cast: (n, dy, ctx) => [op(ctx, 'Cast', [dy], [intAttr('to', 1)])],
  Concat: (n, dy, ctx) => {
    const rank = ctx.shape(n.output![0]!).length;
    const axis = normAxis(attrInt(n, 'axis', 0), rank);
    if (ctx.batchAxes(n.output![0]!).includes(axis)) throw unsupported(n, `a concatenation along the batch dimension (axis ${axis})`);
    let start = 0;
    return n.input!.map((t) => {
      const len = ctx.shape(t)[axis]!;
      const from = start;
      start += len;
      if (!ctx.onPath(t)) return undefined;
      return op(ctx, 'Slice', [dy, ctx.ints([from]), ctx.ints([from + len]), ctx.ints([axis])]);
    });
  },
};

/** The input indices an ONNX Slice takes along one axis of extent `dim`, in output order. */
export function slicedIndices(dim: number, start: number, end: number, step: number): number[] {
  if (step === 0) return [];
  const norm = (v: number) => (v < 0 ? v + dim : v);
  const [s, e] = step > 0 ? [Math.min(Math.max(norm(start), 0), dim), Math.min(Math.max(norm(end), 0), dim)] : [Math.min(Math.max(norm(start), 0), dim - 1), Math.min(Math.max(norm(end), -1), dim - 1)];
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

/** The input index a padded position copies (ONNX Pad's reflect, edge and wrap modes). */
function sourceIndex(mode: string, p: number, len: number): number {
  if (mode === 'edge') return Math.min(Math.max(p, 0), len - 1);
  if (mode === 'wrap') return ((p % len) + len) % len;
  // reflect (the edge itself not repeated), folding as often as needed
  const period = 2 * (len - 1);
  if (period === 0) return 0;
  const q = ((p % period) + period) % period;
  return q < len ? q : period - q;
}

/** dX = Reshape(dY, Shape(X)): the backward of every pure reshape. */
function reshapeBack(n: NodeProto, dy: string, ctx: RuleContext): [string] {
  const shp = ctx.fresh('shape');
  const dx = ctx.fresh('reshape_dx');
  ctx.emit(node('Shape', [first(n)], [shp]));
  ctx.emit(node('Reshape', [dy, shp], [dx]));
  return [dx];
}
