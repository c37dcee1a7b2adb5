// What flows where in an ONNX graph, for the backward compiler: which tensors hold integers or
// booleans (no gradient flows through them: shape arithmetic, indices, masks), and which tensors a
// node reads, including those its subgraphs (If/Loop/Scan bodies) read from the enclosing scope.
import { attr } from './build.js';
import { onnx, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './proto.js';

const T = onnx.TensorProto.DataType;
const FLOATS: ReadonlySet<number> = new Set([T.FLOAT, T.DOUBLE, T.FLOAT16, T.BFLOAT16]);

/** Ops whose outputs are integers or booleans whatever their inputs (index outputs listed apart). */
const ALWAYS_INTEGER = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf', 'NonMaxSuppression', 'BitShift']);
/** Outputs past the first that hold indices: TopK's and MaxPool's indices, Unique's indices and counts. */
const INDEX_OUTPUTS: Readonly<Record<string, number>> = { TopK: 1, MaxPool: 1, Unique: 1 };
/** Ops whose output takes the element type of one input (by position); every other op keeps its first input's. */
const TYPE_FROM: Readonly<Record<string, number>> = { Where: 1, OneHot: 2 };

/**
 * Names of the tensors of the main graph that hold integers or booleans: typed so in the graph
 * (inputs, initializers, value_info), or made so by their op (Shape, comparisons, Cast to an integer,
 * indices …) or by carrying integer inputs through shape ops (Gather, Slice, Concat, Unsqueeze …).
 * Tensors of unknown type count as float (they stay differentiable).
 */
export function integerTensors(model: ModelProto): Set<string> {
  const g = model.graph ?? {};
  const ints = new Set<string>();
  const known = new Set<string>();
  const declare = (name: string | null | undefined, elemType: number | null | undefined): void => {
    if (!name || elemType == null || elemType === T.UNDEFINED) return;
    known.add(name);
    if (!FLOATS.has(elemType)) ints.add(name);
  };
  for (const v of [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])]) declare(v.name, v.type?.tensorType?.elemType);
  for (const t of g.initializer ?? []) declare(t.name, t.dataType);
  for (const n of g.node ?? []) {
    const op = n.opType ?? '';
    const outs = n.output ?? [];
    const inputs = n.input ?? [];
    outs.forEach((o, k) => {
      if (!o || known.has(o)) return;
      let integer: boolean;
      if (n.domain && n.domain !== 'ai.onnx') integer = false;
      else if (ALWAYS_INTEGER.has(op) || (INDEX_OUTPUTS[op] !== undefined && k >= INDEX_OUTPUTS[op]!)) integer = true;
      else if (op === 'Cast') integer = !FLOATS.has(Number(attr(n, 'to') ?? T.FLOAT));
      else if (op === 'Constant') integer = !isFloatConstant(n);
      else if (op === 'ConstantOfShape') integer = !FLOATS.has(valueAttr(n)?.dataType ?? T.FLOAT);
      else if (op === 'Range') integer = ints.has(inputs[0] ?? '');
      else if (op === 'Loop') integer = ints.has(inputs[k + 2] ?? ''); // carried values keep their type; scan outputs count as float
      else if (op === 'If' || op === 'Scan') integer = false;
      else integer = ints.has(inputs[TYPE_FROM[op] ?? 0] ?? '');
      if (integer) ints.add(o);
    });
  }
  return ints;
}

const valueAttr = (n: NodeProto): TensorProto | undefined => n.attribute?.find((a) => a.name === 'value')?.t ?? undefined;

/** A Constant node whose value is float (value tensor of a float type, value_float(s)). */
function isFloatConstant(n: NodeProto): boolean {
  const a = n.attribute?.[0];
  if (!a) return true;
  if (a.name === 'value') return FLOATS.has(a.t?.dataType ?? T.FLOAT);
  return a.name === 'value_float' || a.name === 'value_floats';
}

/**
 * The tensors a node reads: its inputs, plus the outer-scope tensors its subgraphs read (an If
 * branch reading the model's input depends on it, though the If lists only its condition).
 */
export function nodeReads(n: NodeProto): string[] {
  const reads = [...(n.input ?? [])];
  for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) reads.push(...outerReads(sub));
  return reads.filter((t) => t !== '');
}

/** Names a graph reads but neither defines (inputs, initializers, node outputs) nor receives. */
function outerReads(g: GraphProto): string[] {
  const local = new Set<string>([...(g.input ?? []).map((i) => i.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  const outer: string[] = [];
  for (const n of g.node ?? []) {
    for (const t of nodeReads(n)) if (!local.has(t)) outer.push(t);
    for (const o of n.output ?? []) local.add(o);
  }
  for (const o of g.output ?? []) if (o.name && !local.has(o.name)) outer.push(o.name);
  return outer;
}

/** The main graph's constant tensors by name: initializers and Constant nodes' values. */
export function graphConstants(model: ModelProto): Map<string, TensorProto> {
  const g = model.graph ?? {};
  const out = new Map<string, TensorProto>((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const n of g.node ?? []) if (n.opType === 'Constant' && n.output?.[0]) out.set(n.output[0], valueAttr(n) ?? {});
  return out;
}
