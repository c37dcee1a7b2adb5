// VJP rules of the less common ops real exports carry: PRelu (face nets), Abs, Selu, Softsign,
// Mish, Sin, Cos, Mean, Tile, DepthToSpace/SpaceToDepth (super-resolution), the remaining
// reductions (ReduceMin, ReduceSumSquare, ReduceL2, ReduceLogSumExp), and the piecewise-constant
// ops (Floor, Ceil, Round, Sign), whose gradient is zero.
import { attrInt, intAttr } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';
import { attrOrEmpty, first, mulAll, op, sub, unbroadcast, unsupported, type RuleContext, type VjpRule } from './common.js';
import { firstMaxMask, reducedAxes, unreduce } from './reduce.js';

const floatOf = (n: NodeProto, name: string, dflt: number): number => (n.attribute ?? []).find((a) => a.name === name)?.f ?? dflt;

/** Zeros shaped as the node's first input: the gradient of a piecewise-constant op. */
const zeroGrad: VjpRule = (n, _dy, ctx) => [op(ctx, 'ConstantOfShape', [op(ctx, 'Shape', [first(n)])])];

/** dy reshaped to keepdims form and broadcast back over the reduced axes. */
function spread(n: NodeProto, ctx: RuleContext, t: string, axes: readonly number[]): string {
  return op(ctx, 'Expand', [unreduce(n, ctx, t, axes), op(ctx, 'Shape', [first(n)])]);
}

export const MISC_RULES: Readonly<Record<string, VjpRule>> = {
  PRelu: (n, dy, ctx) => {
    const [x, slope] = n.input!;
    if (ctx.onPath(slope!)) throw unsupported(n, 'a slope that depends on the input');
    const pos = op(ctx, 'Greater', [x!, ctx.zero]);
    return [unbroadcast(n, x!, op(ctx, 'Where', [pos, dy, mulAll(ctx, dy, slope!)]), ctx), undefined];
  },
  Abs: (n, dy, ctx) => [mulAll(ctx, dy, op(ctx, 'Sign', [first(n)]))],
  Selu: (n, dy, ctx) => {
    // γ above 0, y + γα below
    const alpha = floatOf(n, 'alpha', 1.67326319217681884765625);
    const gamma = floatOf(n, 'gamma', 1.05070102214813232421875);
    const pos = op(ctx, 'Greater', [first(n), ctx.zero]);
    return [mulAll(ctx, dy, op(ctx, 'Where', [pos, ctx.scalar(gamma), op(ctx, 'Add', [n.output![0]!, ctx.scalar(gamma * alpha)])]))];
  },
  Softsign: (n, dy, ctx) => {
    const d = op(ctx, 'Add', [ctx.scalar(1), op(ctx, 'Abs', [first(n)])]);
    return [op(ctx, 'Div', [dy, mulAll(ctx, d, d)])];
  },
  Mish: (n, dy, ctx) => {
    // y = x·tanh(softplus(x)): y' = t + x·σ(x)·(1 − t²)
    const x = first(n);
    const t = op(ctx, 'Tanh', [op(ctx, 'Softplus', [x])]);
    return [mulAll(ctx, dy, op(ctx, 'Add', [t, mulAll(ctx, x, op(ctx, 'Sigmoid', [x]), sub(ctx, ctx.scalar(1), mulAll(ctx, t, t)))]))];
  },
  Sin: (n, dy, ctx) => [mulAll(ctx, dy, op(ctx, 'Cos', [first(n)]))],
  Cos: (n, dy, ctx) => [op(ctx, 'Neg', [mulAll(ctx, dy, op(ctx, 'Sin', [first(n)]))])],
  Floor: zeroGrad,
  Ceil: zeroGrad,
  Round: zeroGrad,
  Sign: zeroGrad,
  Mean: (n, dy, ctx) => {
    const share = mulAll(ctx, dy, ctx.scalar(1 / n.input!.length));
    return n.input!.map((x) => (ctx.onPath(x) ? unbroadcast(n, x, share, ctx) : undefined));
  },

  Tile: (n, dy, ctx) => {
    // dY seen as [r₀, d₀, r₁, d₁, …] summed over the repeat axes
    const [x, repeatsName] = n.input!;
    const repeats = repeatsName ? ctx.constantInts(repeatsName) : undefined;
    if (!repeats) throw unsupported(n, 'repeats computed at run time');
    const xs = ctx.shape(x!);
    const batch = ctx.batchAxes(x!);
    if (batch.some((a) => repeats[a] !== 1)) throw unsupported(n, 'repeating the batch dimension');
    const view = xs.flatMap((d, i) => [repeats[i]!, batch.includes(i) ? -1 : d]);
    const summed = op(ctx, 'ReduceSum', [op(ctx, 'Reshape', [dy, ctx.ints(view)]), ctx.ints(xs.map((_, i) => 2 * i))], [intAttr('keepdims', 0)]);
    return [summed, undefined];
  },
  DepthToSpace: (n, dy, ctx) => {
    if ((attrOrEmpty(n, 'mode') || 'DCR') !== 'DCR') throw unsupported(n, "mode 'CRD'");
    return [op(ctx, 'SpaceToDepth', [dy], [intAttr('blocksize', attrInt(n, 'blocksize', 1))])];
  },
  SpaceToDepth: (n, dy, ctx) => [op(ctx, 'DepthToSpace', [dy], [intAttr('blocksize', attrInt(n, 'blocksize', 1))])],

  ReduceMin: (n, dy, ctx) => {
    // the whole cotangent to the first minimum (the first maximum of −x)
    const x = first(n);
    const axes = reducedAxes(n, ctx);
    if (axes.length !== 1) throw unsupported(n, 'a min over several axes');
    const mask = firstMaxMask(ctx, op(ctx, 'Neg', [x]), axes[0]!, ctx.shape(x)[axes[0]!]!);
    return [mulAll(ctx, mask, unreduce(n, ctx, dy, axes)), undefined];
  },
  ReduceSumSquare: (n, dy, ctx) => {
    const axes = reducedAxes(n, ctx);
    return [mulAll(ctx, spread(n, ctx, dy, axes), first(n), ctx.scalar(2)), undefined];
  },
  ReduceL2: (n, dy, ctx) => {
    // d‖x‖ = x / ‖x‖ (0 where the norm is 0, as PyTorch)
    const axes = reducedAxes(n, ctx);
    const norm = unreduce(n, ctx, n.output![0]!, axes);
    const safe = op(ctx, 'Where', [op(ctx, 'Equal', [norm, ctx.zero]), ctx.scalar(1), norm]);
    return [mulAll(ctx, spread(n, ctx, dy, axes), op(ctx, 'Div', [first(n), safe])), undefined];
  },
  ReduceLogSumExp: (n, dy, ctx) => {
    // softmax over the reduced axes: exp(x − y)
    const axes = reducedAxes(n, ctx);
    const w = op(ctx, 'Exp', [sub(ctx, first(n), unreduce(n, ctx, n.output![0]!, axes))]);
    return [mulAll(ctx, spread(n, ctx, dy, axes), w), undefined];
  },
};
