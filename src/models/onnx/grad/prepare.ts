// The graph a backward pass is compiled from, and why there can be none: the model in opset-13
// forms (rewrite/upgrade.ts), Ifs on constant conditions inlined and Loops of constant trip count
// unrolled; every op between the input and the output then needs a rule, or (LSTM/GRU/RNN) to be
// unrollable when its shapes are known.
import { AttributionError } from '../../../core/errors.js';
import { graphConstants } from '../graph/dataflow.js';
import type { ModelProto } from '../graph/proto.js';
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
      const blocked = RECURRENT_OPS.has(op) ? unrollBlocker(n) : op === 'Loop' ? loopBlocker(n, graphConstants(model)) : 'no gradient rule';
      return blocked ? [`op '${op}' (node '${n.name}') has ${blocked === 'no gradient rule' ? blocked : `no gradient here: ${blocked}`}`] : [];
    })
    .join('; ');
  return why ? { why } : { model };
}
