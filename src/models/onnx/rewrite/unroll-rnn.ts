// LSTM, GRU and RNN nodes unrolled over their (static) sequence length into standard ops (MatMul,
// Split, Sigmoid, Tanh, Mul, Add, Concat) that have gradient rules, following the ONNX operator
// definitions (gate orders iofc for LSTM and zrh for GRU, default activations, peepholes, both
// directions, GRU's linear_before_reset). The unrolled graph computes the same outputs; the backward
// compiler then differentiates it like any other graph (backpropagation through time).
import { AttributionError } from '../../../core/errors.js';
import { attr, attrInt, freshNames, int64Tensor, intAttr, intsAttr, node } from '../graph/build.js';
import { graphOf, onnx, type ModelProto, type NodeProto } from '../graph/proto.js';

/** Longest sequence unrolled (each step adds about 20 nodes to the graph). */
const MAX_STEPS = 2048;

export const RECURRENT_OPS: ReadonlySet<string> = new Set(['LSTM', 'GRU', 'RNN']);

const DEFAULT_ACTIVATIONS: Readonly<Record<string, readonly string[]>> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };

/** Why a recurrent node cannot be unrolled, or undefined when it can. */
export function unrollBlocker(n: NodeProto): string | undefined {
  const op = n.opType ?? '';
  const acts = attr(n, 'activations');
  const dirs = attr(n, 'direction') === 'bidirectional' ? 2 : 1;
  const defaults = DEFAULT_ACTIVATIONS[op] ?? [];
  if (Array.isArray(acts)) return 'activations given as numbers';
  if (typeof acts === 'string' && acts !== '') return `activations other than ${defaults.join(', ')}`;
  const list = (n.attribute ?? []).find((a) => a.name === 'activations')?.strings?.map((s) => new TextDecoder().decode(s));
  if (list && list.length > 0 && list.join(',').toLowerCase() !== Array.from({ length: dirs }, () => defaults).flat().join(',').toLowerCase()) return `activations [${list.join(', ')}] (only ${defaults.join(', ')})`;
  if ((n.attribute ?? []).some((a) => a.name === 'clip')) return 'cell clipping';
  if (attrInt(n, 'input_forget', 0) !== 0) return 'input_forget = 1';
  if (attrInt(n, 'layout', 0) !== 0) return 'layout = 1 (batch first)';
  if (n.input?.[4]) return 'sequence_lens (sequences of different lengths)';
  return undefined;
}

/**
 * A copy of `model` with every LSTM/GRU/RNN node unrolled (the model itself when it has none).
 * `shapes` must hold each recurrent node's input X (from a probe run): its first dim is the length.
 * @throws {AttributionError} `capability_missing` naming a node `unrollBlocker` refuses.
 */
export function unrollRecurrent(model: ModelProto, shapes: ReadonlyMap<string, readonly number[]>): ModelProto {
  if (!graphOf(model).node.some((n) => RECURRENT_OPS.has(n.opType ?? '') && !n.domain)) return model;
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const fresh = freshNames('attrib_rnn', new Set([...g.node.flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]), ...g.initializer.map((t) => t.name ?? '')]));
  const out: NodeProto[] = [];
  const ints = (values: readonly number[]) => {
    const name = fresh('ints');
    g.initializer.push(onnx.TensorProto.fromObject(int64Tensor(name, [values.length], values) as Record<string, unknown>));
    return name;
  };
  const op = (type: string, inputs: string[], attrs: ReturnType<typeof intAttr>[] = [], outputs = 1): string[] => {
    const names = Array.from({ length: outputs }, () => fresh(type.toLowerCase()));
    out.push(node(type, inputs, names, attrs));
    return names;
  };
  const one = (type: string, inputs: string[], attrs: ReturnType<typeof intAttr>[] = []) => op(type, inputs, attrs)[0]!;
  for (const n of g.node) {
    if (!RECURRENT_OPS.has(n.opType ?? '') || n.domain) {
      out.push(n);
      continue;
    }
    const why = unrollBlocker(n);
    if (why) throw new AttributionError('capability_missing', `ONNX op '${n.opType}' (node '${n.name}') cannot be unrolled for gradients: ${why}; forward-only methods still work`, { details: { op: n.opType, node: n.name } });
    const kind = n.opType as 'LSTM' | 'GRU' | 'RNN';
    const [x, w, r, b, , h0, c0, p] = [...(n.input ?? []), '', '', '', '', '', '', '', ''];
    const xs = shapes.get(x!);
    if (!xs) throw new AttributionError('capability_missing', `The sequence length of ONNX node '${n.name}' is unknown (no shape for '${x}')`, { details: { node: n.name } });
    const steps = xs[0]!;
    if (steps > MAX_STEPS) throw new AttributionError('capability_missing', `ONNX node '${n.name}' runs ${steps} steps: unrolled for gradients only up to ${MAX_STEPS} (attribute shorter sequences)`, { details: { op: n.opType, node: n.name, steps } });
    const hidden = attrInt(n, 'hidden_size', 0);
    const direction = attr(n, 'direction') ?? 'forward';
    const dirs = direction === 'bidirectional' ? [0, 1] : [0];
    const gates = kind === 'LSTM' ? 4 : kind === 'GRU' ? 3 : 1;
    const ys: string[] = [];
    const yh: string[] = [];
    const yc: string[] = [];
    for (const d of dirs) {
      const reverse = direction === 'reverse' || d === 1;
      const pick = (t: string) => one('Gather', [t, ints([d])], [intAttr('axis', 0)]); // [1, …]
      const squeeze0 = (t: string) => one('Squeeze', [t, ints([0])]);
      const wT = one('Transpose', [squeeze0(pick(w!))], [intsAttr('perm', [1, 0])]); // [I, G·H]
      const rT = one('Transpose', [squeeze0(pick(r!))], [intsAttr('perm', [1, 0])]); // [H, G·H]
      // biases: Wb and Rb, [G·H] each
      const [wb, rb] = b ? op('Split', [squeeze0(pick(b)), ints([gates * hidden, gates * hidden])], [intAttr('axis', 0)], 2) : [undefined, undefined];
      // input projections of every step at once: [T, B, G·H]
      const xw0 = one('MatMul', [x!, wT]);
      const xw = wb ? one('Add', [xw0, wb]) : xw0;
      // zero initial state of shape [B, H] when none is given
      const zeros = () => one('ConstantOfShape', [one('Concat', [one('Gather', [one('Shape', [x!]), ints([1])], [intAttr('axis', 0)]), ints([hidden])], [intAttr('axis', 0)])]);
      let hPrev = h0 ? squeeze0(pick(h0)) : zeros();
      let cPrev = kind === 'LSTM' ? (c0 ? squeeze0(pick(c0)) : zeros()) : '';
      const peep = kind === 'LSTM' && p ? op('Split', [squeeze0(pick(p)), ints([hidden, hidden, hidden])], [intAttr('axis', 0)], 3) : undefined; // i, o, f
      const outs = new Array<string>(steps);
      for (let k = 0; k < steps; k++) {
        const t = reverse ? steps - 1 - k : k;
        const xt = squeeze0(one('Gather', [xw, ints([t])], [intAttr('axis', 0)])); // [B, G·H]
        const hr0 = one('MatMul', [hPrev, rT]);
        const hr = rb ? one('Add', [hr0, rb]) : hr0;
        if (kind === 'RNN') hPrev = one('Tanh', [one('Add', [xt, hr])]);
        else if (kind === 'LSTM') {
          const [gi, go, gf, gc] = op('Split', [one('Add', [xt, hr]), ints([hidden, hidden, hidden, hidden])], [intAttr('axis', 1)], 4) as [string, string, string, string];
          const withPeep = (g0: string, k0: number, c: string) => (peep ? one('Add', [g0, one('Mul', [peep[k0]!, c])]) : g0);
          const i = one('Sigmoid', [withPeep(gi, 0, cPrev)]);
          const f = one('Sigmoid', [withPeep(gf, 2, cPrev)]);
          const c = one('Add', [one('Mul', [f, cPrev]), one('Mul', [i, one('Tanh', [gc])])]);
          const o = one('Sigmoid', [withPeep(go, 1, c)]);
          hPrev = one('Mul', [o, one('Tanh', [c])]);
          cPrev = c;
        } else {
          const [xz, xr, xh] = op('Split', [xt, ints([hidden, hidden, hidden])], [intAttr('axis', 1)], 3) as [string, string, string];
          const [hz, hrr, hh] = op('Split', [hr, ints([hidden, hidden, hidden])], [intAttr('axis', 1)], 3) as [string, string, string];
          const z = one('Sigmoid', [one('Add', [xz, hz])]);
          const rg = one('Sigmoid', [one('Add', [xr, hrr])]);
          let cand: string;
          if (attrInt(n, 'linear_before_reset', 0) !== 0) cand = one('Tanh', [one('Add', [xh, one('Mul', [rg, hh])])]);
          else {
            // (r ⊙ H) Rhᵀ + Rbh: the recurrent projection of the reset state, with its own bias slice
            const rhT = one('Slice', [rT, ints([2 * hidden]), ints([3 * hidden]), ints([1])]);
            const proj0 = one('MatMul', [one('Mul', [rg, hPrev]), rhT]);
            const proj = rb ? one('Add', [proj0, one('Slice', [rb, ints([2 * hidden]), ints([3 * hidden]), ints([0])])]) : proj0;
            cand = one('Tanh', [one('Add', [xh, proj])]);
          }
          // H = (1 − z) ⊙ h̃ + z ⊙ H₋₁ = h̃ + z ⊙ (H₋₁ − h̃)
          hPrev = one('Add', [cand, one('Mul', [z, one('Sub', [hPrev, cand])])]);
        }
        outs[t] = one('Unsqueeze', [hPrev, ints([0])]); // [1, B, H]
      }
      ys.push(one('Unsqueeze', [one('Concat', outs, [intAttr('axis', 0)]), ints([1])])); // [T, 1, B, H]
      yh.push(one('Unsqueeze', [hPrev, ints([0])]));
      if (kind === 'LSTM') yc.push(one('Unsqueeze', [cPrev, ints([0])]));
    }
    const finals: [string | undefined, string[], number][] = [
      [n.output?.[0], ys, 1],
      [n.output?.[1], yh, 0],
      [n.output?.[2], yc, 0],
    ];
    for (const [name, parts, axis] of finals) {
      if (!name) continue;
      out.push(parts.length === 1 ? node('Identity', [parts[0]!], [name]) : node('Concat', parts, [name], [intAttr('axis', axis)]));
    }
  }
  g.node.splice(0, g.node.length, ...out.map((x) => onnx.NodeProto.fromObject(x as Record<string, unknown>)));
  return copy;
}
