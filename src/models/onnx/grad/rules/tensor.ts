// VJP rules of tensor contractions and scatters/gathers by index tensors: Einsum, ScatterND,
// GatherND, GatherElements.
import { attrInt, intAttr } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';
import { attrOrEmpty, op, sumTo, unsupported, type RuleContext, type VjpRule } from './common.js';

const ELLIPSIS = '...';

/** The terms of an einsum equation: one token list per input and the output's ('...' is one token). */
export function parseEinsum(equation: string): { inputs: string[][]; output: string[] } | undefined {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->');
  if (lhs === undefined || eq.split('->').length > 2) return undefined;
  const tokens = (term: string): string[] | undefined => {
    const out: string[] = [];
    for (let i = 0; i < term.length; ) {
      if (term.startsWith(ELLIPSIS, i)) (out.push(ELLIPSIS), (i += 3));
      else if (/[a-zA-Z]/.test(term[i]!)) out.push(term[i++]!);
      else return undefined;
    }
    return out;
  };
  const inputs = lhs.split(',').map(tokens);
  if (inputs.some((t) => !t)) return undefined;
  const ins = inputs as string[][];
  if (rhs !== undefined) {
    const output = tokens(rhs);
    return output ? { inputs: ins, output } : undefined;
  }
  // implicit output: the ellipsis, then the labels used once, in alphabetical order
  const count = new Map<string, number>();
  for (const t of ins.flat()) count.set(t, (count.get(t) ?? 0) + 1);
  const once = [...count].filter(([t, c]) => t !== ELLIPSIS && c === 1).map(([t]) => t);
  once.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { inputs: ins, output: [...(count.has(ELLIPSIS) ? [ELLIPSIS] : []), ...once] };
}

const term = (tokens: readonly string[]): string => tokens.join('');

/** Every label's size and the broadcast ellipsis dims, from the operands' static shapes. */
function sizes(n: NodeProto, terms: readonly string[][], shapes: readonly (readonly number[])[]): { label: Map<string, number>; ellipsis: number[] } {
  const label = new Map<string, number>();
  let ellipsis: number[] = [];
  terms.forEach((t, k) => {
    const s = shapes[k]!;
    const at = t.indexOf(ELLIPSIS);
    const extra = s.length - (t.length - (at >= 0 ? 1 : 0));
    if (extra < 0 || (at < 0 && extra !== 0)) throw unsupported(n, `operand ${k} of rank ${s.length} for the term '${term(t)}'`);
    let d = 0;
    for (const tok of t) {
      if (tok === ELLIPSIS) {
        const dims = s.slice(d, d + extra);
        const rank = Math.max(ellipsis.length, dims.length);
        const pad = (v: readonly number[]) => [...new Array<number>(rank - v.length).fill(1), ...v];
        ellipsis = pad(ellipsis).map((e, i) => Math.max(e, pad(dims)[i]!));
        d += extra;
      } else label.set(tok, Math.max(label.get(tok) ?? 1, s[d++]!));
    }
  });
  return { label, ellipsis };
}

export const TENSOR_RULES: Readonly<Record<string, VjpRule>> = {
  Einsum: (n, dy, ctx) => {
    // dA_k = einsum(out, the other operands -> term_k), summed over what A_k was broadcast along;
    // labels of A_k found nowhere else (summed out) come back through an all-ones operand shaped as A_k
    const eq = parseEinsum(attrOrEmpty(n, 'equation'));
    if (!eq) throw unsupported(n, `the equation '${attrOrEmpty(n, 'equation')}'`);
    const operands = n.input!;
    if (eq.inputs.length !== operands.length) throw unsupported(n, 'an equation whose terms do not match its inputs');
    const shapes = operands.map((t) => ctx.shape(t));
    const { label, ellipsis } = sizes(n, eq.inputs, shapes);
    return operands.map((x, k) => {
      if (!ctx.onPath(x)) return undefined;
      const mine = eq.inputs[k]!;
      const labels = mine.filter((t) => t !== ELLIPSIS);
      if (new Set(labels).size !== labels.length) throw unsupported(n, `a repeated label (diagonal) in the term '${term(mine)}'`);
      const others = eq.inputs.filter((_, j) => j !== k);
      const covered = new Set([...eq.output, ...others.flat()]);
      const terms = [eq.output, ...others];
      const ins = [dy, ...operands.filter((_, j) => j !== k)];
      if (mine.some((t) => !covered.has(t) || (t === ELLIPSIS && !eq.output.includes(ELLIPSIS)))) {
        terms.push(mine);
        ins.push(op(ctx, 'Expand', [ctx.scalar(1), op(ctx, 'Shape', [x])]));
      }
      const grad = ctx.fresh('einsum_dx');
      ctx.emit({ ...node0('Einsum', ins, grad), attribute: [{ name: 'equation', type: 3, s: new TextEncoder().encode(`${terms.map(term).join(',')}->${term(mine)}`) }] });
      const full = mine.flatMap((t) => (t === ELLIPSIS ? ellipsis : [label.get(t)!]));
      return sumTo(n, grad, full, x, ctx);
    });
  },

  ScatterND: (n, dy, ctx) => {
    // y = data with y[indices] = updates (or += for reduction 'add')
    const [data, indices, updates] = n.input!;
    const reduction = attrOrEmpty(n, 'reduction') || 'none';
    if (reduction !== 'none' && reduction !== 'add') throw unsupported(n, `reduction '${reduction}'`);
    const dData = !ctx.onPath(data!) ? undefined : reduction === 'add' ? dy : op(ctx, 'ScatterND', [dy, indices!, zerosLike(ctx, updates!)]);
    const dUpdates = ctx.onPath(updates!) ? op(ctx, 'GatherND', [dy, indices!]) : undefined;
    return [dData, undefined, dUpdates];
  },

  GatherND: (n, dy, ctx) => {
    // the cotangent added back at the gathered positions (repeated indices accumulate)
    const [data, indices] = n.input!;
    if (attrInt(n, 'batch_dims', 0) !== 0) throw unsupported(n, 'batch_dims > 0');
    ctx.requireOpset(16);
    const dx = ctx.fresh('gathernd_dx');
    ctx.emit({ ...node0('ScatterND', [zerosLike(ctx, data!), indices!, dy], dx), attribute: [reductionAdd()] });
    return [dx, undefined];
  },

  GatherElements: (n, dy, ctx) => {
    const [data, indices] = n.input!;
    ctx.requireOpset(16);
    const dx = ctx.fresh('gatherelements_dx');
    ctx.emit({ ...node0('ScatterElements', [zerosLike(ctx, data!), indices!, dy], dx), attribute: [intAttr('axis', attrInt(n, 'axis', 0)), reductionAdd()] });
    return [dx, undefined];
  },
};

const reductionAdd = () => ({ name: 'reduction', type: 3, s: new TextEncoder().encode('add') });

/** A node without attributes writing `out`. */
const node0 = (type: string, inputs: string[], out: string): NodeProto => ({ opType: type, input: inputs, output: [out], name: out, domain: '' });

/** Float zeros of `t`'s run-time shape. */
const zerosLike = (ctx: RuleContext, t: string): string => op(ctx, 'ConstantOfShape', [op(ctx, 'Shape', [t])]);
