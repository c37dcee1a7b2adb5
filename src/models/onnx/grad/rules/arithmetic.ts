// VJP rules of elementwise arithmetic with broadcasting, and Max/Min.
import { intAttr } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';
import { TIES_TO_FIRST, mulAll, op, sub, unbroadcast, unsupported, type RuleContext, type VjpRule } from './common.js';

export const ARITHMETIC_RULES: Readonly<Record<string, VjpRule>> = {
  Sum: (n, dy, ctx) => n.input!.map((x) => (ctx.onPath(x) ? unbroadcast(n, x, dy, ctx) : undefined)),
  Add: (n, dy, ctx) => n.input!.map((x) => (ctx.onPath(x) ? unbroadcast(n, x, dy, ctx) : undefined)),

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
  Max: (n, dy, ctx) => extremum(n, dy, ctx),
  Min: (n, dy, ctx) => extremum(n, dy, ctx),
};

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
