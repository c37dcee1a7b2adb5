// Graph surgery on ONNX models: read any intermediate tensor (an extra output) or feed it (the graph
// cut there, the tensor becoming an input), so methods can attribute to intermediate tensors.
import { ModelLoadError } from '../../../core/errors.js';
import { graphOf, onnx, type ModelProto } from './proto.js';

const clone = (m: ModelProto): ModelProto => onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
const floatType = () => ({ tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } });

/** Names of the tensors the graph's nodes produce. */
export function producedTensors(model: ModelProto): Set<string> {
  return new Set(graphOf(model).node.flatMap((n) => n.output ?? []));
}

/** A copy whose outputs are `names` (intermediate tensors included), in that order. */
export function withOutputs(model: ModelProto, names: readonly string[]): ModelProto {
  const copy = clone(model);
  const g = graphOf(copy);
  const known = new Set([...producedTensors(copy), ...g.input.map((i) => i.name)]);
  for (const name of names) if (!known.has(name)) throw new ModelLoadError(`ONNX model has no tensor '${name}'`, { tensor: name });
  const existing = new Map(g.output.map((o) => [o.name, o]));
  // new outputs carry no type: ORT takes it from the producing node (int64 tensors stay int64)
  g.output.splice(0, g.output.length, ...names.map((name) => existing.get(name) ?? onnx.ValueInfoProto.fromObject({ name })));
  return copy;
}

/**
 * A copy that takes `tensor` as a graph input instead of computing it: the nodes that only served to
 * compute it are dropped, and so are the inputs nothing reads any more. The new input is float32.
 */
export function cutAt(model: ModelProto, tensor: string): ModelProto {
  const copy = clone(model);
  const g = graphOf(copy);
  if (!producedTensors(copy).has(tensor)) throw new ModelLoadError(`ONNX model has no intermediate tensor '${tensor}' to cut at`, { tensor });
  // keep the nodes the outputs need, walking back and stopping at the cut
  const needed = new Set(g.output.map((o) => o.name));
  const keep: boolean[] = new Array<boolean>(g.node.length).fill(false);
  for (let k = g.node.length - 1; k >= 0; k--) {
    const n = g.node[k]!;
    if (!(n.output ?? []).some((o) => needed.has(o) && o !== tensor)) continue;
    keep[k] = true;
    for (const i of n.input ?? []) if (i !== tensor) needed.add(i);
  }
  const nodes = g.node.filter((_, k) => keep[k]);
  g.node.splice(0, g.node.length, ...nodes);
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  const inputs = g.input.filter((i) => used.has(i.name ?? ''));
  g.input.splice(0, g.input.length, onnx.ValueInfoProto.fromObject({ name: tensor, type: floatType() }), ...inputs);
  const inits = g.initializer.filter((t) => used.has(t.name ?? ''));
  g.initializer.splice(0, g.initializer.length, ...inits);
  g.valueInfo.splice(0, g.valueInfo.length);
  return copy;
}
