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
  /** The model's default-domain opset (13 or newer). */
  readonly opset: number;
  /** Name of a float scalar 0 constant. */
  readonly zero: string;
  /** Name of a float scalar constant with this value. */
  scalar(value: number): string;
  /** An int64 1-D constant, for axes and shapes. */
  ints(values: readonly number[]): string;
  /** A float constant tensor. */
  constantTensor(dims: readonly number[], values: readonly number[]): string;
  /** The values of an int64 initializer or Constant node, when the graph has them. */
  constantInts(name: string): number[] | undefined;
  /** Raises the backward graph's opset (e.g. 16 for ScatterElements with add-reduction). */
  requireOpset(version: number): void;
  /**
   * True when ORT's blocked-channel (NCHWc) kernels will run the graph (onnxruntime-node on x86):
   * rules then prefer ops that stay in that layout (Conv, BatchNormalization, activations, Mul, Add)
   * over ops that force a reorder to plain NCHW and back (Where, Greater).
   */
  readonly blockedLayout: boolean;
  /** Rewrites a forward node (e.g. MaxPool gains an Indices output). */
  replaceForward(original: NodeProto, replacement: NodeProto): void;
  emit(n: NodeProto): void;
}

/**
 * Returns the cotangent names of the node's inputs (undefined for inputs off the path). `dy` is the
 * first output's cotangent; `dys` has every output's (undefined where none flows back).
 */
export type VjpRule = (n: NodeProto, dy: string, ctx: RuleContext, dys: readonly (string | undefined)[]) => (string | undefined)[];

/**
 * The doc_string of a Max node whose ties go wholly to its first maximal input (MaxPool's arg-max
 * convention), set by the rewrite that writes a max pool in phase form (simplify.ts). Any other
 * Max or Min shares the cotangent evenly among tied inputs, as PyTorch's maximum and minimum do.
 */
export const TIES_TO_FIRST = 'attrib: ties go to the first maximal input';

/** Ops whose rule runs when only a later output has a cotangent. */
export const MULTI_OUTPUT: ReadonlySet<string> = new Set(['Split']);

const unsupported = (n: NodeProto, why: string): AttributionError =>
  new AttributionError('capability_missing', `ONNX op '${n.opType}' (node '${n.name}') has no gradient rule here: ${why}`, { details: { op: n.opType, node: n.name } });

const first = (n: NodeProto): string => n.input![0]!;

export const RULES: Readonly<Record<string, VjpRule>> = {
  Identity: (_n, dy) => [dy],
  Dropout: (_n, dy) => [dy],

  Relu: (n, dy, ctx) => {
    // mask from the Relu output (PyTorch: gradient 0 at exactly 0), so ORT can still fuse Conv+Relu
    const y = n.output![0]!;
    const ys = ctx.shape(y);
    if (ctx.blockedLayout && ys.length === 4 && ys[1]! % 8 === 0) return [reluMaskBlocked(y, ys[1]!, dy, ctx)];
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

  Sum: (n, dy, ctx) => n.input!.map((x) => (ctx.onPath(x) ? unbroadcast(n, x, dy, ctx) : undefined)),
  Expand: (n, dy, ctx) => [unbroadcast(n, first(n), dy, ctx), undefined],
  Where: (n, dy, ctx) => {
    const [c, a, b] = n.input!;
    const da = ctx.onPath(a!) ? unbroadcast(n, a!, op(ctx, 'Where', [c!, dy, ctx.zero]), ctx) : undefined;
    const db = ctx.onPath(b!) ? unbroadcast(n, b!, op(ctx, 'Where', [c!, ctx.zero, dy]), ctx) : undefined;
    return [undefined, da, db];
  },
  Reciprocal: (n, dy, ctx) => [op(ctx, 'Neg', [mulAll(ctx, dy, n.output![0]!, n.output![0]!)])],

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
    if ((ints(stepsName, 'steps') ?? []).some((v) => v !== 1)) throw unsupported(n, 'steps other than 1');
    const pads = new Array<number>(2 * xs.length).fill(0);
    axes.forEach((a, i) => {
      const dim = xs[a]!;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const [s, e] = [clamp(starts[i]!), clamp(ends[i]!)];
      if (a === 0 && !(s === 0 && ends[i]! >= 2 ** 31 - 1)) throw unsupported(n, 'a slice of the batch dimension');
      pads[a] = s;
      pads[a + xs.length] = dim - Math.max(e, s);
    });
    return [op(ctx, 'Pad', [dy, ctx.ints(pads)]), undefined, undefined, undefined, undefined];
  },

  Split: (n, _dy, ctx, dys) => {
    // the cotangents joined back (zeros for outputs nothing reads)
    const rank = ctx.shape(first(n)).length;
    const axis = normAxis(attrInt(n, 'axis', 0), rank);
    if (axis === 0) throw unsupported(n, 'a split of the batch dimension');
    const parts = n.output!.map((o, i) => dys[i] ?? op(ctx, 'ConstantOfShape', [op(ctx, 'Shape', [o])]));
    return [op(ctx, 'Concat', parts, [intAttr('axis', axis)]), undefined];
  },

  Pad: (n, dy, ctx) => {
    // constant padding: the cotangent cropped back to the input
    const mode = attrOrEmpty(n, 'mode') || 'constant';
    if (mode !== 'constant') throw unsupported(n, `mode '${mode}'`);
    const [x, padsName, , axesName] = n.input!;
    const xs = ctx.shape(x!);
    const pads = padsName ? ctx.constantInts(padsName) : undefined;
    if (!pads) throw unsupported(n, 'pads computed at run time');
    const axes = axesName ? ctx.constantInts(axesName)?.map((a) => normAxis(a, xs.length)) : xs.map((_, i) => i);
    if (!axes) throw unsupported(n, 'axes computed at run time');
    const cropped = axes.filter((a, i) => pads[i] !== 0 || pads[i + axes.length] !== 0);
    if (pads.some((v) => v < 0)) throw unsupported(n, 'negative pads (cropping)');
    if (cropped.includes(0)) throw unsupported(n, 'padding of the batch dimension');
    if (cropped.length === 0) return [dy, undefined, undefined, undefined];
    const begin = cropped.map((a) => pads[axes.indexOf(a)]!);
    const end = cropped.map((a, i) => begin[i]! + xs[a]!);
    return [op(ctx, 'Slice', [dy, ctx.ints(begin), ctx.ints(end), ctx.ints(cropped)]), undefined, undefined, undefined];
  },

  Gather: (n, dy, ctx) => {
    // dData[.., d, ..] = Σ_k [idx_k = d] · dY[.., k, ..]: a one-hot matrix [D, K] times dY seen as [pre, K, post]
    const [data, indices] = n.input!;
    const ds = ctx.shape(data!);
    const axis = normAxis(attrInt(n, 'axis', 0), ds.length);
    if (axis === 0) throw unsupported(n, 'gathering along the batch dimension (differentiate the embedding output instead)');
    const k = ctx.shape(indices!).reduce((a, b) => a * b, 1);
    const post = ds.slice(axis + 1).reduce((a, b) => a * b, 1);
    const flat = op(ctx, 'Reshape', [indices!, ctx.ints([-1])]);
    const oneHot = op(ctx, 'OneHot', [flat, ctx.ints([ds[axis]!]), ctx.constantTensor([2], [0, 1])], [intAttr('axis', 0)]);
    const routed = op(ctx, 'MatMul', [oneHot, op(ctx, 'Reshape', [dy, ctx.ints([-1, k, post])])]);
    return [op(ctx, 'Reshape', [routed, op(ctx, 'Shape', [data!])]), undefined];
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
    const mean = (t: string) => mulAll(ctx, op(ctx, 'ReduceSum', [t, ctx.ints(axes)], [intAttr('keepdims', 1)]), ctx.scalar(1 / count));
    const xc = sub(ctx, x!, mean(x!));
    const r = op(ctx, 'Reciprocal', [op(ctx, 'Sqrt', [op(ctx, 'Add', [mean(mulAll(ctx, xc, xc)), ctx.scalar(eps)])])]);
    const xhat = mulAll(ctx, xc, r);
    const g = mulAll(ctx, dy, scale!);
    return [mulAll(ctx, r, sub(ctx, sub(ctx, g, mean(g)), mulAll(ctx, xhat, mean(mulAll(ctx, g, xhat))))), undefined, undefined];
  },

  Gelu: (n, dy, ctx) => {
    const x = first(n);
    if ((attrOrEmpty(n, 'approximate') || 'none') === 'tanh') {
      // y = x/2 · (1 + tanh(u)), u = c·(x + 0.044715x³): y' = (1 + t)/2 + x/2 · (1 − t²) · c·(1 + 3·0.044715x²)
      const c = Math.sqrt(2 / Math.PI);
      const x2 = mulAll(ctx, x, x);
      const u = mulAll(ctx, ctx.scalar(c), op(ctx, 'Add', [x, mulAll(ctx, ctx.scalar(0.044715), x2, x)]));
      const t = op(ctx, 'Tanh', [u]);
      const du = mulAll(ctx, ctx.scalar(c), op(ctx, 'Add', [ctx.scalar(1), mulAll(ctx, ctx.scalar(3 * 0.044715), x2)]));
      const left = mulAll(ctx, ctx.scalar(0.5), op(ctx, 'Add', [ctx.scalar(1), t]));
      const right = mulAll(ctx, ctx.scalar(0.5), x, sub(ctx, ctx.scalar(1), mulAll(ctx, t, t)), du);
      return [mulAll(ctx, dy, op(ctx, 'Add', [left, right]))];
    }
    // y = x·Φ(x): y' = Φ(x) + x·φ(x)
    const cdf = mulAll(ctx, ctx.scalar(0.5), op(ctx, 'Add', [ctx.scalar(1), op(ctx, 'Erf', [mulAll(ctx, x, ctx.scalar(Math.SQRT1_2))])]));
    const pdf = mulAll(ctx, ctx.scalar(1 / Math.sqrt(2 * Math.PI)), op(ctx, 'Exp', [mulAll(ctx, ctx.scalar(-0.5), x, x)]));
    return [mulAll(ctx, dy, op(ctx, 'Add', [cdf, mulAll(ctx, x, pdf)]))];
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
    const outPad = xs.slice(2).map((inD, i) => inD! - (s[i]! * (ys[2 + i]! - 1) + d[i]! * (k[i]! - 1) + 1 - p[i]! - p[i + spatial]!));
    const full = d.map((dd, i) => dd * (k[i]! - 1));
    if (g === 1 && s.every((v) => v === 1) && xs[1]! % 8 === 0 && p.every((v, i) => v <= full[i % spatial]!)) {
      // stride 1: a plain convolution with the kernel flipped and its channels swapped, padded by
      // d·(k−1) − p, runs in ORT's fast (NCHWc) Conv; ConvTranspose is ~2.5× slower there. Few
      // gradient channels (e.g. an RGB input) are faster as ConvTranspose (../shared/notes/onnx-backward.md).
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

  Sigmoid: (n, dy, ctx) => [mulAll(ctx, dy, n.output![0]!, sub(ctx, ctx.scalar(1), n.output![0]!))],
  Tanh: (n, dy, ctx) => [mulAll(ctx, dy, sub(ctx, ctx.scalar(1), mulAll(ctx, n.output![0]!, n.output![0]!)))],
  Exp: (n, dy, ctx) => [mulAll(ctx, dy, n.output![0]!)],
  Log: (n, dy, ctx) => [op(ctx, 'Div', [dy, first(n)])],
  Sqrt: (n, dy, ctx) => [op(ctx, 'Div', [dy, mulAll(ctx, ctx.scalar(2), n.output![0]!)])],
  Neg: (_n, dy, ctx) => [op(ctx, 'Neg', [dy])],
  Erf: (n, dy, ctx) => {
    // d erf(x) = 2/√π · exp(−x²)
    const x = first(n);
    return [mulAll(ctx, dy, ctx.scalar(2 / Math.sqrt(Math.PI)), op(ctx, 'Exp', [op(ctx, 'Neg', [mulAll(ctx, x, x)])]))];
  },
  LeakyRelu: (n, dy, ctx) => {
    const alpha = (n.attribute ?? []).find((a) => a.name === 'alpha')?.f ?? 0.01;
    const pos = op(ctx, 'Greater', [first(n), ctx.zero]);
    return [op(ctx, 'Where', [pos, dy, mulAll(ctx, dy, ctx.scalar(alpha))])];
  },
  Elu: (n, dy, ctx) => {
    // 1 for x > 0, y + α below (TF and PyTorch)
    const alpha = (n.attribute ?? []).find((a) => a.name === 'alpha')?.f ?? 1;
    const pos = op(ctx, 'Greater', [first(n), ctx.zero]);
    return [op(ctx, 'Where', [pos, dy, mulAll(ctx, dy, op(ctx, 'Add', [n.output![0]!, ctx.scalar(alpha)]))])];
  },
  Softplus: (n, dy, ctx) => [mulAll(ctx, dy, op(ctx, 'Sigmoid', [first(n)]))],
  Clip: (n, dy, ctx) => {
    // gradient 1 where min ≤ x ≤ max (PyTorch's clamp), 0 elsewhere
    const [x, lo, hi] = n.input!;
    let keep: string | undefined;
    if (lo) keep = op(ctx, 'GreaterOrEqual', [x!, lo]);
    if (hi) {
      const le = op(ctx, 'LessOrEqual', [x!, hi]);
      keep = keep ? op(ctx, 'And', [keep, le]) : le;
    }
    return [keep ? op(ctx, 'Where', [keep, dy, ctx.zero]) : dy, undefined, undefined];
  },
  Pow: (n, dy, ctx) => {
    const [x, p] = n.input!;
    if (ctx.onPath(p!)) throw unsupported(n, 'an exponent that depends on the input');
    // d xᵖ = p · x^(p−1)
    return [unbroadcast(n, x!, mulAll(ctx, dy, p!, op(ctx, 'Pow', [x!, sub(ctx, p!, ctx.scalar(1))])), ctx), undefined];
  },
  Sub: (n, dy, ctx) => {
    const [a, b] = n.input!;
    return [ctx.onPath(a!) ? unbroadcast(n, a!, dy, ctx) : undefined, ctx.onPath(b!) ? unbroadcast(n, b!, op(ctx, 'Neg', [dy]), ctx) : undefined];
  },
  Mul: (n, dy, ctx) => {
    const [a, b] = n.input!;
    return [ctx.onPath(a!) ? unbroadcast(n, a!, mulAll(ctx, dy, b!), ctx) : undefined, ctx.onPath(b!) ? unbroadcast(n, b!, mulAll(ctx, dy, a!), ctx) : undefined];
  },
  Div: (n, dy, ctx) => {
    const [a, b] = n.input!;
    const da = ctx.onPath(a!) ? unbroadcast(n, a!, op(ctx, 'Div', [dy, b!]), ctx) : undefined;
    // d(a/b)/db = −a/b² = −y/b
    const db = ctx.onPath(b!) ? unbroadcast(n, b!, op(ctx, 'Neg', [op(ctx, 'Div', [mulAll(ctx, dy, n.output![0]!), b!])]), ctx) : undefined;
    return [da, db];
  },
  Softmax: (n, dy, ctx) => {
    // dx = y ⊙ (dy − Σ_axis dy ⊙ y)
    const y = n.output![0]!;
    const axis = normAxis(attrInt(n, 'axis', -1), ctx.shape(y).length);
    const s = op(ctx, 'ReduceSum', [mulAll(ctx, dy, y), ctx.ints([axis])], [intAttr('keepdims', 1)]);
    return [mulAll(ctx, y, sub(ctx, dy, s))];
  },
  LogSoftmax: (n, dy, ctx) => {
    // dx = dy − softmax(x) ⊙ Σ_axis dy
    const y = n.output![0]!;
    const axis = normAxis(attrInt(n, 'axis', -1), ctx.shape(y).length);
    const s = op(ctx, 'ReduceSum', [dy, ctx.ints([axis])], [intAttr('keepdims', 1)]);
    return [sub(ctx, dy, mulAll(ctx, op(ctx, 'Exp', [y]), s))];
  },
  Cast: (n, dy, ctx) => [op(ctx, 'Cast', [dy], [intAttr('to', 1)])],
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
  Max: (n, dy, ctx) => extremum(n, dy, ctx),
  Min: (n, dy, ctx) => extremum(n, dy, ctx),
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
  ReduceSum: (n, dy, ctx) => reduceBack(n, dy, ctx, n.input![1], false),
  ReduceMean: (n, dy, ctx) => reduceBack(n, dy, ctx, n.input![1], true),
  Concat: (n, dy, ctx) => {
    const rank = ctx.shape(n.output![0]!).length;
    const axis = normAxis(attrInt(n, 'axis', 0), rank);
    let start = 0;
    return n.input!.map((t) => {
      const len = ctx.shape(t)[axis]!;
      const from = start;
      start += len;
      if (!ctx.onPath(t)) return undefined;
      return op(ctx, 'Slice', [dy, ctx.ints([from]), ctx.ints([from + len]), ctx.ints([axis])]);
    });
  },
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

function attrOrEmpty(n: NodeProto, name: string): string {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : '';
}

/**
 * The ReLU backward dy ⊙ [y > 0] in ops that keep ORT's blocked layout: mask = tanh(10³⁸ · y), the
 * product as a BatchNormalization (a depthwise 1×1 NCHWc convolution, with the Tanh fused in) and a
 * same-shape Mul. The mask is exactly 0 where y = 0 and exactly 1 (tanh saturates in float32) for
 * every y ≥ 1e-37; only positive outputs below that (denormal scale) would get a fractional mask.
 * Where + Greater cost two reorders of every activation around them instead.
 */
function reluMaskBlocked(y: string, channels: number, dy: string, ctx: RuleContext): string {
  const big = ctx.constantTensor([channels], new Array(channels).fill(1e38));
  const zeros = ctx.constantTensor([channels], new Array(channels).fill(0));
  const ones = ctx.constantTensor([channels], new Array(channels).fill(1));
  // ORT converts BatchNormalization to NCHWc only with an explicit epsilon
  const scaled = op(ctx, 'BatchNormalization', [y, big, zeros, zeros, ones], [floatAttr('epsilon', 0)]);
  return op(ctx, 'Mul', [dy, op(ctx, 'Tanh', [scaled])]);
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
  return sumTo(n, dy, ctx.shape(n.output![0]!), x, ctx);
}

/** `t` (static shape `ts`) summed over the axes along which `x` was broadcast to it, shaped as `x`. */
function sumTo(n: NodeProto, t: string, ts: readonly number[], x: string, ctx: RuleContext): string {
  const xs = ctx.shape(x);
  if (xs.length === ts.length && xs.every((d, i) => d === ts[i])) return t;
  const lead = ts.length - xs.length;
  const axes = ts.map((_, i) => i).filter((i) => i < lead || (xs[i - lead] === 1 && ts[i] !== 1));
  if (axes.includes(0) && lead > 0) throw unsupported(n, 'an operand broadcast along the batch dimension');
  const summed = axes.length > 0 ? op(ctx, 'ReduceSum', [t, ctx.ints(axes)], [intAttr('keepdims', 1)]) : t;
  return op(ctx, 'Reshape', [summed, op(ctx, 'Shape', [x])]);
}

/** Emits one node with a fresh output and returns the output's name. */
function op(ctx: RuleContext, type: string, inputs: string[], attributes: ReturnType<typeof intAttr>[] = []): string {
  const out = ctx.fresh(type.toLowerCase());
  ctx.emit(node(type, inputs, [out], attributes));
  return out;
}
const mulAll = (ctx: RuleContext, ...xs: string[]): string => xs.slice(1).reduce((acc, x) => op(ctx, 'Mul', [acc, x]), xs[0]!);
const sub = (ctx: RuleContext, a: string, b: string): string => op(ctx, 'Sub', [a, b]);
const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Backward of ReduceSum/ReduceMean: dy broadcast back over the reduced axes (÷ count for the mean). */
function reduceBack(n: NodeProto, dy: string, ctx: RuleContext, axesInput: string | undefined, mean: boolean): (string | undefined)[] {
  const x = first(n);
  const xs = ctx.shape(x);
  const keep = attrInt(n, 'keepdims', 1) === 1;
  let axes = attrInts(n, 'axes', []);
  if (axesInput) {
    const known = ctx.constantInts(axesInput);
    if (!known) throw unsupported(n, 'axes computed at run time');
    axes = known;
  }
  if (axes.length === 0) axes = xs.map((_, i) => i);
  axes = axes.map((a) => normAxis(a, xs.length));
  const shaped = keep ? dy : op(ctx, 'Unsqueeze', [dy, ctx.ints(axes)]);
  const count = axes.reduce((acc, a) => acc * xs[a]!, 1);
  const scaled = mean ? mulAll(ctx, shaped, ctx.scalar(1 / count)) : shaped;
  const dx = op(ctx, 'Expand', [scaled, op(ctx, 'Shape', [x])]);
  return axesInput ? [dx, undefined] : [dx];
}

/**
 * Backward of the elementwise Max/Min of several inputs: the cotangent goes to the inputs equal to
 * the result, shared evenly among ties, or wholly to the first of them for TIES_TO_FIRST nodes (a
 * running remainder: each input takes what is left where it ties, so no later input can).
 */
function extremum(n: NodeProto, dy: string, ctx: RuleContext): (string | undefined)[] {
  const y = n.output![0]!;
  const inputs = n.input!;
  if (inputs.length === 1) return [dy];
  if (n.docString === TIES_TO_FIRST) {
    let left = dy;
    return inputs.map((x, i) => {
      if (i === inputs.length - 1) return ctx.onPath(x) ? unbroadcast(n, x, left, ctx) : undefined;
      const mine = op(ctx, 'Where', [op(ctx, 'Equal', [x, y]), left, ctx.zero]);
      left = sub(ctx, left, mine);
      return ctx.onPath(x) ? unbroadcast(n, x, mine, ctx) : undefined;
    });
  }
  const hits = inputs.map((x) => op(ctx, 'Equal', [x, y]));
  const count = op(ctx, 'Sum', hits.map((h) => op(ctx, 'Cast', [h], [intAttr('to', 1)])));
  const share = op(ctx, 'Div', [dy, count]);
  return inputs.map((x, i) => (ctx.onPath(x) ? unbroadcast(n, x, op(ctx, 'Where', [hits[i]!, share, ctx.zero]), ctx) : undefined));
}

/** A float 0/1 mask of the first maximum of `x` along `axis` (ArgMax with select_last_index = 0, then OneHot). */
function firstMaxMask(ctx: RuleContext, x: string, axis: number, depth: number): string {
  const idx = op(ctx, 'ArgMax', [x], [intAttr('axis', axis), intAttr('keepdims', 0), intAttr('select_last_index', 0)]);
  const values = ctx.constantTensor([2], [0, 1]);
  return op(ctx, 'OneHot', [idx, ctx.ints([depth]), values], [intAttr('axis', axis)]);
}
