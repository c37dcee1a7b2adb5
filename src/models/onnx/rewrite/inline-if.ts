// An If whose condition is a constant (an initializer or Constant node, or computed from constants:
// see fold-condition.ts) replaced by the branch it always takes, so the backward compiler sees
// ordinary nodes. Exporters leave such Ifs behind when a Python-side check on a static value is
// traced (e.g. `if x.dim() == 4`), and a model input fixed at load (`constantInputs`, e.g. Silero
// VAD's sample rate) makes more. Branches may hold Ifs of their own: inlining repeats until none
// is left to inline. Ifs on run-time conditions stay (and are refused by name on the path).
import { graphOf, onnx, type GraphProto, type ModelProto, type NodeProto } from '../graph/proto.js';
import { node } from '../graph/build.js';
import { graphConstants } from '../graph/dataflow.js';
import { foldSmall, type SmallValue } from './fold-condition.js';

/** The truth value of a one-element value, if it has one element. */
function truth(v: SmallValue | undefined): boolean | undefined {
  return v && v.values.length === 1 ? v.values[0] !== 0 : undefined;
}

/**
 * A copy of `model` with every main-graph If on a constant condition replaced by the nodes of the
 * branch it takes (its initializers moved to the main graph, its outputs renamed to the If's by
 * Identity nodes); the model itself when there is none.
 */
export function inlineStaticIfs(model: ModelProto): { model: ModelProto; inlined: number } {
  let current = model;
  let inlined = 0;
  // each round inlines the Ifs decidable now; a branch's own Ifs come up in the next (depth bounded)
  for (let round = 0; round < 16; round++) {
    const step = inlineOnce(current);
    if (step.inlined === 0) break;
    current = step.model;
    inlined += step.inlined;
  }
  return { model: current, inlined };
}

function inlineOnce(model: ModelProto): { model: ModelProto; inlined: number } {
  const g0 = graphOf(model);
  const constants = graphConstants(model);
  const producers = new Map<string, NodeProto>();
  for (const n of g0.node) for (const o of n.output ?? []) if (o) producers.set(o, n);
  const taken = (n: NodeProto): GraphProto | undefined => {
    if (n.opType !== 'If' || (n.domain ?? '') !== '') return undefined;
    const cond = truth(foldSmall(n.input?.[0] ?? '', producers, constants));
    if (cond === undefined) return undefined;
    return n.attribute?.find((a) => a.name === (cond ? 'then_branch' : 'else_branch'))?.g ?? undefined;
  };
  if (!g0.node.some((n) => taken(n))) return { model, inlined: 0 };
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const nodeNames = new Set(g.node.map((n) => n.name ?? ''));
  let inlined = 0;
  const out: NodeProto[] = [];
  for (const n of g.node) {
    const branch = taken(n);
    if (!branch) {
      out.push(n);
      continue;
    }
    inlined++;
    for (const t of branch.initializer ?? []) g.initializer.push(onnx.TensorProto.fromObject(t as Record<string, unknown>));
    for (const b of branch.node ?? []) {
      let name = b.name || b.output?.[0] || 'node';
      while (nodeNames.has(name)) name = `${name}_inlined`;
      nodeNames.add(name);
      out.push(onnx.NodeProto.fromObject({ ...b, name } as Record<string, unknown>));
    }
    (branch.output ?? []).forEach((o, i) => {
      const target = n.output?.[i];
      if (target) out.push(onnx.NodeProto.fromObject(node('Identity', [o.name ?? ''], [target], [], `${n.name || target}_branch_out_${i}`) as Record<string, unknown>));
    });
  }
  g.node.splice(0, g.node.length, ...out);
  return { model: copy, inlined };
}
