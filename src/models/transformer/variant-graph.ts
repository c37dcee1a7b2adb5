// Rewrites of a transformer graph for one session variant: hooks fed as inputs (whole or masked),
// logits of the last position only, and the nodes no output needs dropped.
import { int64Tensor, node } from '../onnx/graph/build.js';
import { graphOf, onnx, type ModelProto } from '../onnx/graph/proto.js';
import { LOGITS } from './graph.js';

export const maskInput = (hook: string): string => `attrib_mask:${hook}`;
export const valueInput = (hook: string): string => `attrib_value:${hook}`;

const copyOf = (model: ModelProto): ModelProto => onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());

/**
 * A copy where each hook in `names` is a graph input (float32 [batch, ...shape]) instead of its
 * Identity node's output, and each hook in `masked` is `Where(mask, value, own value)` of two inputs.
 */
export function feedHooks(model: ModelProto, names: readonly string[], masked: readonly string[], hooks: ReadonlyMap<string, readonly number[]>): ModelProto {
  if (names.length === 0 && masked.length === 0) return model;
  const copy = copyOf(model);
  const g = graphOf(copy);
  const fed = new Set(names);
  const kept = g.node.filter((n) => !(n.opType === 'Identity' && fed.has(n.output?.[0] ?? '')));
  g.node.splice(0, g.node.length, ...kept);
  const input = (name: string, hook: string, elemType: number) => {
    const dims = [{ dimParam: 'batch' }, ...hooks.get(hook)!.map((d) => ({ dimValue: d }))];
    g.input.push(onnx.ValueInfoProto.fromObject({ name, type: { tensorType: { elemType, shape: { dim: dims } } } }));
  };
  for (const n of names) input(n, n, onnx.TensorProto.DataType.FLOAT);
  for (const h of masked) {
    const i = g.node.findIndex((n) => n.opType === 'Identity' && n.output?.[0] === h);
    const own = g.node[i]!.input![0]!;
    g.node[i] = onnx.NodeProto.fromObject(node('Where', [maskInput(h), valueInput(h), own], [h]) as Record<string, unknown>);
    input(maskInput(h), h, onnx.TensorProto.DataType.BOOL);
    input(valueInput(h), h, onnx.TensorProto.DataType.FLOAT);
  }
  return copy;
}

/**
 * A copy whose logits are those of the last position only ([batch, 1, vocab]): the final norm's output
 * is sliced to position `seqLen − 1` before the unembedding, which then costs one row instead of
 * `seqLen` (forward and backward).
 */
export function lastPositionLogits(model: ModelProto, seqLen: number): ModelProto {
  const copy = copyOf(model);
  const g = graphOf(copy);
  const unembed = g.node.find((n) => n.output?.[0] === LOGITS)!;
  const sliced = 'attrib_last_position';
  const at = (name: string, v: number) => (g.initializer.push(onnx.TensorProto.fromObject(int64Tensor(name, [1], [v]) as Record<string, unknown>)), name);
  const slice = node('Slice', [unembed.input![0]!, at('attrib_last_start', seqLen - 1), at('attrib_last_end', seqLen), at('attrib_last_axis', 1)], [sliced]);
  unembed.input![0] = sliced;
  g.node.splice(g.node.indexOf(unembed), 0, onnx.NodeProto.fromObject(slice as Record<string, unknown>));
  for (const o of g.output) if (o.name === LOGITS) o.type = null;
  return copy;
}

/**
 * Drops the nodes no graph output needs (e.g. everything upstream of a hook fed as an input) and the
 * initializers nothing reads any more; graph inputs stay declared (fed or not, they are accepted).
 */
export function pruneUnused(model: ModelProto): ModelProto {
  const g = graphOf(model);
  const needed = new Set(g.output.map((o) => o.name ?? ''));
  const keep = new Array<boolean>(g.node.length).fill(false);
  for (let k = g.node.length - 1; k >= 0; k--) {
    const n = g.node[k]!;
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep[k] = true;
    for (const i of n.input ?? []) needed.add(i);
  }
  if (keep.every(Boolean)) return model;
  const nodes = g.node.filter((_, k) => keep[k]);
  g.node.splice(0, g.node.length, ...nodes);
  const inits = g.initializer.filter((t) => needed.has(t.name ?? ''));
  g.initializer.splice(0, g.initializer.length, ...inits);
  return model;
}
