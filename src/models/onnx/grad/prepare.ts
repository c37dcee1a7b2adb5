// The graph a backward pass is compiled from, and why there can be none: the model in opset-13
// forms (rewrite/upgrade.ts), Ifs on constant conditions inlined and Loops of constant trip count
// unrolled; every op between the input and the output then needs a rule, or (LSTM/GRU/RNN) to be
// unrollable when its shapes are known.
import { AttributionError } from '../../../core/errors.js';
import { graphConstants } from '../graph/dataflow.js';
import type { ModelProto, NodeProto } from '../graph/proto.js';
import { inlineStaticIfs } from '../rewrite/inline-if.js';
import { loopBlocker, unrollStaticLoops } from '../rewrite/unroll-loop.js';
import { RECURRENT_OPS, unrollBlocker } from '../rewrite/unroll-rnn.js';
import { upgradeOpset } from '../rewrite/upgrade.js';
import { pathNodes } from './compile.js';
import { RULES } from './rules.js';

/**
 * The forward graph to compile backward graphs from (`model`), or why gradients of `output` with
 * respect to `input` cannot be had (`why`, naming every op that stops them), decided before any run.
 */
export function prepareForGradients(proto: ModelProto, input: string, output: string): { model: ModelProto; why?: undefined } | { model?: undefined; why: string } {
  let model: ModelProto;
  try {
    model = unrollStaticLoops(inlineStaticIfs(upgradeOpset(proto).model).model).model;
  } catch (e) {
    if (!(e instanceof AttributionError)) throw e;
    return { why: e.message };
  }
  const why = pathNodes(model, input, output)
    .nodes.flatMap((n) => {
      const op = n.opType ?? '';
      if (RULES[op]) return [];
      if (op === 'If') return [`op 'If' (node '${n.name}') has a condition known only at run time${ifHint(model, n, input)}`];
      const blocked = RECURRENT_OPS.has(op) ? unrollBlocker(n) : op === 'Loop' ? loopBlocker(n, graphConstants(model)) : 'no gradient rule';
      return blocked ? [`op '${op}' (node '${n.name}') has ${blocked === 'no gradient rule' ? blocked : `no gradient here: ${blocked}`}`] : [];
    })
    .join('; ');
  return why ? { why } : { model };
}

/**
 * What decides an If's condition, as advice: the graph inputs it reads (other than the attributed
 * one: fix them at load), else whether it tests tensor shapes or values computed from the input.
 */
function ifHint(model: ModelProto, n: NodeProto, attributed: string): string {
  const g = model.graph ?? {};
  const inputs = new Set((g.input ?? []).map((i) => i.name ?? ''));
  const producers = new Map<string, NodeProto>();
  for (const p of g.node ?? []) for (const o of p.output ?? []) if (o) producers.set(o, p);
  const read = new Set<string>();
  let shapes = false;
  const seen = new Set<string>();
  const stack = [n.input?.[0] ?? ''];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (!t || seen.has(t)) continue;
    seen.add(t);
    if (inputs.has(t)) read.add(t);
    const p = producers.get(t);
    if (!p) continue;
    // a Shape or Size reads only its input's dims
    if (p.opType === 'Shape' || p.opType === 'Size') {
      shapes = true;
      continue;
    }
    stack.push(...(p.input ?? []));
  }
  read.delete(attributed);
  if (read.size > 0) {
    const names = [...read];
    return ` (it reads input${names.length > 1 ? 's' : ''} ${names.map((x) => `'${x}'`).join(', ')}: fix ${names.length > 1 ? 'them' : 'it'} at load with constantInputs, CLI --constant-inputs ${names.map((x) => `${x}=VALUE`).join(',')})`;
  }
  return shapes ? ' (it tests tensor shapes)' : ' (it depends on values computed from the input)';
}
