// A Loop whose trip count is a constant and whose condition cannot stop it early, unrolled into
// copies of its body (one per iteration, tensors renamed), so the backward compiler sees ordinary
// nodes. Scan outputs are stacked along a new axis 0 as Loop does.
import { freshNames, int64Tensor, int64Values, intAttr, node } from '../graph/build.js';
import { graphConstants } from '../graph/dataflow.js';
import { graphOf, onnx, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../graph/proto.js';

/** Most iterations unrolled (the graph grows by one body per iteration). */
const MAX_TRIPS = 1024;

/** Why a Loop node cannot be unrolled (given the main graph's constants), or undefined when it can. */
export function loopBlocker(n: NodeProto, constants: ReadonlyMap<string, TensorProto>): string | undefined {
  const body = n.attribute?.find((a) => a.name === 'body')?.g;
  if (!body) return 'no body';
  const trips = int64Values(constants.get(n.input?.[0] ?? '') ?? undefined)?.[0];
  if (trips === undefined) return 'a trip count computed at run time';
  if (trips < 1 || trips > MAX_TRIPS) return `${trips} iterations (1 to ${MAX_TRIPS} are unrolled)`;
  if ((body.node ?? []).some((b) => (b.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0))) return 'a body with nested subgraphs';
  // the loop must run all its trips: no condition, or a body that passes the condition through unchanged
  if (n.input?.[1]) {
    const condIn = body.input?.[1]?.name ?? '';
    const condOut = body.output?.[0]?.name ?? '';
    const passed = condOut === condIn || (body.node ?? []).some((b) => b.opType === 'Identity' && b.input?.[0] === condIn && b.output?.[0] === condOut);
    const initial = constants.get(n.input[1]);
    const initiallyTrue = initial ? (initial.rawData?.[0] ?? Number(initial.int32Data?.[0] ?? 0)) !== 0 : false;
    if (!passed || !initiallyTrue) return 'a condition that may stop it early';
  }
  return undefined;
}

/**
 * A copy of `model` with every main-graph Loop that `loopBlocker` accepts unrolled (the model itself
 * when there is none). Loops it refuses stay (and are refused by name if on the path).
 */
export function unrollStaticLoops(model: ModelProto): { model: ModelProto; unrolled: number } {
  const g0 = graphOf(model);
  const constants = graphConstants(model);
  const can = (n: NodeProto) => n.opType === 'Loop' && !n.domain && loopBlocker(n, constants) === undefined;
  if (!g0.node.some(can)) return { model, unrolled: 0 };
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const taken = new Set<string>([...g.initializer.map((t) => t.name ?? ''), ...g.node.flatMap((n) => [...(n.input ?? []), ...(n.output ?? []), n.name ?? ''])]);
  const fresh = freshNames('attrib_loop', taken);
  const out: NodeProto[] = [];
  let unrolled = 0;
  for (const n of g.node) {
    if (!can(n)) {
      out.push(n);
      continue;
    }
    unrolled++;
    const body = n.attribute!.find((a) => a.name === 'body')!.g! as GraphProto;
    const trips = int64Values(constants.get(n.input![0]!)!)![0]!;
    const carried = (n.input ?? []).slice(2);
    const bodyIn = (body.input ?? []).map((i) => i.name ?? '');
    const bodyOut = (body.output ?? []).map((o) => o.name ?? '');
    const scans = bodyOut.length - 1 - carried.length;
    // body initializers are constants: one shared renamed copy
    const shared = new Map<string, string>();
    for (const t of body.initializer ?? []) {
      const name = fresh('const');
      shared.set(t.name ?? '', name);
      g.initializer.push(onnx.TensorProto.fromObject({ ...t, name } as Record<string, unknown>));
    }
    const condTrue = fresh('true');
    g.initializer.push(onnx.TensorProto.fromObject({ name: condTrue, dims: [], dataType: onnx.TensorProto.DataType.BOOL, rawData: new Uint8Array([1]) }));
    let state = [...carried];
    const stacked: string[][] = Array.from({ length: scans }, () => []);
    for (let i = 0; i < trips; i++) {
      const iter = fresh('iter');
      g.initializer.push(onnx.TensorProto.fromObject(int64Tensor(iter, [], [i]) as Record<string, unknown>));
      const rename = new Map<string, string>(shared);
      rename.set(bodyIn[0]!, iter);
      rename.set(bodyIn[1]!, condTrue);
      bodyIn.slice(2).forEach((b, j) => rename.set(b, state[j]!));
      for (const b of body.node ?? []) for (const o of b.output ?? []) if (o) rename.set(o, fresh('t'));
      const map = (t: string) => (t ? (rename.get(t) ?? t) : t); // outer-scope names stay
      for (const b of body.node ?? []) out.push(onnx.NodeProto.fromObject({ ...b, name: fresh('node'), input: (b.input ?? []).map(map), output: (b.output ?? []).map(map) } as Record<string, unknown>));
      state = bodyOut.slice(1, 1 + carried.length).map(map);
      bodyOut.slice(1 + carried.length).forEach((s, k) => {
        const u = fresh('scan');
        out.push(node('Unsqueeze', [map(s), axis0(g, fresh)], [u], [], fresh('node')));
        stacked[k]!.push(u);
      });
    }
    (n.output ?? []).forEach((o, j) => {
      if (!o) return;
      if (j < carried.length) out.push(node('Identity', [state[j]!], [o], [], fresh('node')));
      else out.push(node('Concat', stacked[j - carried.length]!, [o], [intAttr('axis', 0)], fresh('node')));
    });
  }
  g.node.splice(0, g.node.length, ...out.map((x) => onnx.NodeProto.fromObject(x as Record<string, unknown>)));
  return { model: copy, unrolled };
}

/** An int64 [0] constant (Unsqueeze's axes). */
function axis0(g: GraphProto, fresh: (hint: string) => string): string {
  const name = fresh('axis0');
  g.initializer!.push(onnx.TensorProto.fromObject(int64Tensor(name, [1], [0]) as Record<string, unknown>));
  return name;
}
