// VJP rules of elementwise activations and unary maths.
import { attrInt, intAttr, floatAttr, node } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';
import { attrOrEmpty, first, mulAll, normAxis, op, sub, type RuleContext, type VjpRule } from './common.js';

export const ACTIVATION_RULES: Readonly<Record<string, VjpRule>> = {
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

  Reciprocal: (n, dy, ctx) => [op(ctx, 'Neg', [mulAll(ctx, dy, n.output![0]!, n.output![0]!)])],

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
  HardSigmoid: (n, dy, ctx) => {
    // y = max(0, min(1, αx + β)): slope α strictly inside (0, 1), 0 on the flat parts (PyTorch)
    const alpha = floatOf(n, 'alpha', 0.2);
    const z = op(ctx, 'Add', [mulAll(ctx, first(n), ctx.scalar(alpha)), ctx.scalar(floatOf(n, 'beta', 0.5))]);
    const inside = op(ctx, 'And', [op(ctx, 'Greater', [z, ctx.zero]), op(ctx, 'Less', [z, ctx.scalar(1)])]);
    return [op(ctx, 'Where', [inside, mulAll(ctx, dy, ctx.scalar(alpha)), ctx.zero])];
  },
  HardSwish: (n, dy, ctx) => {
    // y = x · max(0, min(1, x/6 + 1/2)): y' = 0 below −3, x/3 + 1/2 up to 3, 1 above (PyTorch)
    const x = first(n);
    const mid = op(ctx, 'Add', [mulAll(ctx, x, ctx.scalar(1 / 3)), ctx.scalar(0.5)]);
    const slope = op(ctx, 'Where', [op(ctx, 'Less', [x, ctx.scalar(-3)]), ctx.zero, op(ctx, 'Where', [op(ctx, 'LessOrEqual', [x, ctx.scalar(3)]), mid, ctx.scalar(1)])]);
    return [mulAll(ctx, dy, slope)];
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
};

const floatOf = (n: NodeProto, name: string, dflt: number): number => (n.attribute ?? []).find((a) => a.name === name)?.f ?? dflt;

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
