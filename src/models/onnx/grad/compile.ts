// Reverse-mode differentiation of an ONNX graph, written as a second ONNX graph that ONNX Runtime
// runs: inputs = the model's inputs + `cotangent` (for the output), outputs = the output and the
// vector–Jacobian product with respect to one input.
import { AttributionError } from '../../../core/errors.js';
import { floatTensor, floatValues, int64Tensor, int64Values, node } from '../graph/build.js';
import { integerTensors, nodeReads } from '../graph/dataflow.js';
import { graphOf, onnx, type ModelProto, type Node, type NodeProto, type TensorProto } from '../graph/proto.js';
import { MULTI_OUTPUT, RULES, type RuleContext } from './rules.js';

export const COTANGENT = 'attrib_cotangent';
export const gradName = (input: string): string => `attrib_grad_${input}`;

/**
 * Nodes that lie on a path from `input` (or any of several tensors) to `output`, in graph
 * (topological) order. Only float tensors carry the path: integer and boolean tensors (shape
 * arithmetic such as Shape → Gather → Concat → Reshape's shape, indices, masks) have no gradient.
 * A node whose subgraph reads a path tensor (an If branch reading the input) is on the path.
 */
export function pathNodes(model: ModelProto, input: string | readonly string[], output: string): { nodes: NodeProto[]; onPath: Set<string> } {
  const nodes = model.graph?.node ?? [];
  const integer = integerTensors(model);
  const fromInput = new Set<string>(typeof input === 'string' ? [input] : input);
  for (const n of nodes) if (nodeReads(n).some((i) => fromInput.has(i))) for (const o of n.output ?? []) if (o && !integer.has(o)) fromInput.add(o);
  const toOutput = new Set<string>([output]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if ((n.output ?? []).some((o) => toOutput.has(o) && !integer.has(o))) for (const i of nodeReads(n)) toOutput.add(i);
  }
  const onPath = new Set([...fromInput].filter((t) => toOutput.has(t)));
  return { nodes: nodes.filter((n) => (n.output ?? []).some((o) => onPath.has(o))), onPath };
}

/** Ops on the path that have no gradient rule (empty when the model can be differentiated). */
export function unsupportedOps(model: ModelProto, input: string | readonly string[], output: string): { op: string; node: string }[] {
  return pathNodes(model, input, output)
    .nodes.filter((n) => !RULES[n.opType ?? ''])
    .map((n) => ({ op: n.opType ?? '?', node: n.name ?? '' }));
}

const defaultOpset = (model: ModelProto): number => Number(model.opsetImport?.find((o) => (o.domain ?? '') === '')?.version ?? 0);

/**
 * Why the model's opset rules gradients out (the rules read and emit opset-13 forms), or undefined.
 * `upgradeOpset` (rewrite/upgrade.ts) converts opsets 7–12 first; the ONNX adapter does so.
 */
export function opsetBlocker(model: ModelProto): string | undefined {
  const opset = defaultOpset(model);
  return opset < 13 ? `ONNX opset ${opset}: the backward compiler reads opset 13 or newer (convert the model with upgradeOpset first, or re-export it with opset_version >= 13)` : undefined;
}

/** A copy of the model whose outputs are every tensor its nodes produce (to read shapes by running it). */
export function probeModel(model: ModelProto): ModelProto {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const existing = new Set(g.output.map((o) => o.name));
  for (const n of g.node) for (const o of n.output ?? []) if (o && !existing.has(o)) g.output.push({ name: o }), existing.add(o);
  return copy;
}

/** Options of `compileVjp`. */
export interface VjpOptions {
  /** ORT's NCHWc kernels will run the graph (see `RuleContext.blockedLayout`). */
  readonly blockedLayout?: boolean;
  /**
   * Every tensor's shape from a probe with two rows (`shapes` has one): the axes whose extent
   * differs follow the batch; without it, axis 0 is taken as the batch axis of every tensor.
   */
  readonly batchShapes?: ReadonlyMap<string, readonly number[]>;
  /** The graph always runs one row at a time (input dim 0 fixed at 1): no axis follows the batch. */
  readonly fixedBatch?: boolean;
}

/**
 * The VJP graph for d output / d wrt. `wrt` is one tensor (a graph input, or an intermediate tensor)
 * or several: all their cotangents come from ONE backward pass, as graph outputs `gradName(w)` after
 * `output`, in `wrt`'s order (the gradient at an intermediate tensor holds everything upstream of it
 * fixed). With several, a tensor the output does not depend on gets zeros. `shapes` holds every
 * tensor's shape from a probe run (batch 1) and the initializers' dims; see `VjpOptions` for the
 * rest. Throws `capability_missing` naming the
 * first unsupported op.
 */
export function compileVjp(model: ModelProto, wrt: string | readonly string[], output: string, shapes: ReadonlyMap<string, readonly number[]>, opts: VjpOptions = {}): ModelProto {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const several = typeof wrt !== 'string';
  const names: readonly string[] = several ? wrt : [wrt];
  if (names.length === 0 || new Set(names).size !== names.length) {
    throw new AttributionError('invalid_argument', `compileVjp needs one or more distinct tensors to differentiate with respect to; got [${names.join(', ')}]`, { details: { wrt: names } });
  }
  const { nodes, onPath } = pathNodes(copy, names, output);
  if (!onPath.has(output)) {
    throw new AttributionError('capability_missing', `ONNX output '${output}' does not depend on ${several ? 'any of' : 'input'} '${names.join("', '")}'`, { details: { input: names.join(','), output } });
  }
  const tooOld = opsetBlocker(copy);
  if (tooOld) throw new AttributionError('capability_missing', `${tooOld}; forward-only methods still work`, { details: { opset: defaultOpset(copy) } });
  const opset = defaultOpset(copy);
  const emitted: NodeProto[] = [];
  const constants = new Set<string>();
  let counter = 0;
  const zero = 'attrib_zero';
  g.initializer.push(floatTensor(zero, [], [0]));
  const ctx: RuleContext = {
    fresh: (hint) => `attrib_${hint}_${counter++}`,
    shape: (name) => {
      const s = shapes.get(name);
      if (!s) throw new AttributionError('capability_missing', `The shape of ONNX tensor '${name}' is unknown`, { details: { tensor: name } });
      return s;
    },
    onPath: (name) => onPath.has(name),
    batchAxes: (name) => {
      if (opts.fixedBatch) return [];
      const [one, two] = [shapes.get(name), opts.batchShapes?.get(name)];
      if (!one || !two || one.length !== two.length) return [0];
      return one.flatMap((d, i) => (d !== two[i] ? [i] : []));
    },
    opset,
    zero,
    blockedLayout: opts.blockedLayout ?? false,
    replaceForward: (original, replacement) => {
      const i = g.node.indexOf(original as Node);
      if (i >= 0) g.node[i] = onnx.NodeProto.fromObject(replacement as Record<string, unknown>);
    },
    emit: (n) => emitted.push(n),
    scalar: (value) => {
      const name = `attrib_scalar_${String(value).replace(/[^0-9a-z]/gi, '_')}`;
      if (!constants.has(name)) constants.add(name), g.initializer.push(onnx.TensorProto.fromObject(floatTensor(name, [], [value]) as Record<string, unknown>));
      return name;
    },
    ints: (values) => {
      const name = `attrib_ints_${counter++}`;
      g.initializer.push(onnx.TensorProto.fromObject(int64Tensor(name, [values.length], values) as Record<string, unknown>));
      return name;
    },
    constantTensor: (dims, values) => {
      const name = `attrib_const_${counter++}`;
      g.initializer.push(onnx.TensorProto.fromObject(floatTensor(name, dims, values) as Record<string, unknown>));
      return name;
    },
    constantInts: (name) => readInts(copy, name),
    constantFloats: (name) => readFloats(copy, name),
    requireOpset: (version) => {
      const imp = copy.opsetImport.find((o) => (o.domain ?? '') === '');
      if (imp && Number(imp.version) < version) imp.version = version;
    },
  };
  const grads = new Map<string, string[]>([[output, [COTANGENT]]]);
  const accumulated = (t: string): string | undefined => {
    const parts = grads.get(t);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length === 1) return parts[0];
    const sum = ctx.fresh('sum');
    emitted.push(node('Sum', parts, [sum]));
    grads.set(t, [sum]);
    return sum;
  };
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    // cotangents of every output (Split has several); most rules read only the first
    const dys = (n.output ?? []).map((o) => (o ? accumulated(o) : undefined));
    const dy = dys[0];
    if (!dys.some((d) => d !== undefined)) continue;
    if (!dy && !MULTI_OUTPUT.has(n.opType ?? '')) continue;
    const rule = RULES[n.opType ?? ''];
    if (!rule) {
      throw new AttributionError('capability_missing', `ONNX op '${n.opType}' (node '${n.name}') has no gradient rule; forward-only methods still work on this model`, {
        details: { op: n.opType, node: n.name },
      });
    }
    const dxs = rule(n, dy ?? '', ctx, dys);
    (n.input ?? []).forEach((name, i) => {
      const dx = dxs[i];
      if (dx && onPath.has(name)) grads.set(name, [...(grads.get(name) ?? []), dx]);
    });
  }
  for (const input of names) {
    const dInput = accumulated(input);
    if (dInput) emitted.push(node('Identity', [dInput], [gradName(input)]));
    else if (several) emitted.push(node('ConstantOfShape', [op0(emitted, 'Shape', input, ctx)], [gradName(input)]));
    else throw new AttributionError('capability_missing', `No gradient reaches ONNX input '${input}'`, { details: { input } });
  }
  for (const e of emitted) g.node.push(onnx.NodeProto.fromObject(e as Record<string, unknown>));
  const zeroAt = g.initializer.findIndex((t) => t.name === zero);
  if (zeroAt >= 0 && !g.node.some((n) => (n.input ?? []).includes(zero))) g.initializer.splice(zeroAt, 1);
  const floatType = { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } };
  g.input.push({ name: COTANGENT, type: floatType });
  g.output.splice(0, g.output.length, { name: output, type: floatType }, ...names.map((n) => ({ name: gradName(n), type: floatType })));
  g.valueInfo.splice(0, g.valueInfo.length);
  return copy;
}

/** Emits `type(input)` with a fresh output name and returns it. */
function op0(emitted: NodeProto[], type: string, input: string, ctx: RuleContext): string {
  const out = ctx.fresh(type.toLowerCase());
  emitted.push(node(type, [input], [out]));
  return out;
}

export const encodeModel = (m: ModelProto): Uint8Array => onnx.ModelProto.encode(m).finish();
export const decodeModel = (bytes: Uint8Array): ModelProto => onnx.ModelProto.decode(bytes);

/** The initializer or Constant-node tensor named `name`, if the graph has one. */
function constantTensorOf(model: ModelProto, name: string): TensorProto | undefined {
  const g = graphOf(model);
  const init = g.initializer.find((t) => t.name === name);
  if (init) return init;
  const c = g.node.find((n) => n.opType === 'Constant' && n.output?.[0] === name);
  return c?.attribute?.find((a) => a.name === 'value')?.t ?? undefined;
}

/** Values of an int64 initializer (or Constant node output) named `name`, if the graph has one. */
const readInts = (model: ModelProto, name: string): number[] | undefined => int64Values(constantTensorOf(model, name));
/** Values of a float initializer (or Constant node output) named `name`, if the graph has one. */
function readFloats(model: ModelProto, name: string): number[] | undefined {
  const v = floatValues(constantTensorOf(model, name));
  return v ? Array.from(v) : undefined;
}
