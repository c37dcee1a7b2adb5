// Finds the trainable parameters of an ONNX model that attrib can give per-example gradients for:
// the weights and biases of its dense layers (Gemm; MatMul with a constant right operand, plus the
// Add of a bias right after it). A float initializer any other op consumes is a parameter the
// method cannot differentiate: the model is refused, naming that op.
import { CapabilityError } from '../../core/errors.js';
import { attrInt } from '../../models/onnx/graph/build.js';
import { graphOf, onnx, type ModelProto, type NodeProto, type TensorProto } from '../../models/onnx/graph/proto.js';

/** One dense layer: y = α·x·op(W) + β·b, its parameters at `weightOffset` / `biasOffset` of θ. */
export interface DenseLayer {
  readonly op: 'Gemm' | 'MatMul';
  readonly node: string;
  /** The layer's input activation x `[batch, …, in]`. */
  readonly input: string;
  /** The tensor whose cotangent is dy: the Gemm output, or the MatMul output (before the bias Add). */
  readonly output: string;
  readonly weight: string;
  /** `[out, in]` (PyTorch layout, Gemm transB = 1) or `[in, out]`. */
  readonly weightDims: readonly [number, number];
  readonly outFirst: boolean;
  readonly alpha: number;
  readonly weightOffset: number;
  readonly bias?: string;
  readonly biasSize: number;
  readonly beta: number;
  readonly biasOffset: number;
  /** Units of the layer's output (`out`). */
  readonly units: number;
}

/** A parameter tensor: its name, dims and offset in the flat parameter vector θ. */
export interface ParameterInfo {
  readonly name: string;
  readonly dims: readonly number[];
  readonly offset: number;
  readonly size: number;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const sizeOf = (t: TensorProto): number => (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);

/**
 * The dense layers and the parameter layout (weights then bias, layer by layer in graph order) of
 * the part of `model` that `output` depends on.
 * @throws {CapabilityError} `capability_missing` naming the op of a parameter that is not a dense
 *   layer's weight or bias, or a weight shared by several nodes.
 */
export function denseLayers(model: ModelProto, output: string): { layers: DenseLayer[]; parameters: ParameterInfo[] } {
  const g = graphOf(model);
  const inits = new Map(g.initializer.filter((t) => t.dataType === FLOAT).map((t) => [t.name ?? '', t]));
  const needed = new Set([output]);
  for (let k = g.node.length - 1; k >= 0; k--) {
    const n = g.node[k]!;
    if ((n.output ?? []).some((o) => needed.has(o))) for (const i of n.input ?? []) needed.add(i);
  }
  const nodes = g.node.filter((n) => (n.output ?? []).some((o) => needed.has(o)));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const refuse = (n: NodeProto, tensor: string, why: string): CapabilityError =>
    new CapabilityError(`ONNX op '${n.opType}' (node '${n.name}') uses parameter '${tensor}' ${why}; training-data attribution differentiates the weights and biases of Gemm and MatMul(+Add) layers only`, {
      op: n.opType,
      node: n.name,
      parameter: tensor,
    });
  const layers: DenseLayer[] = [];
  const parameters: ParameterInfo[] = [];
  const claimed = new Set<string>();
  let offset = 0;
  const claim = (name: string, t: TensorProto): number => {
    const at = offset;
    claimed.add(name);
    parameters.push({ name, dims: (t.dims ?? []).map(Number), offset: at, size: sizeOf(t) });
    offset += sizeOf(t);
    return at;
  };
  for (const n of nodes) {
    const [a, b, c] = n.input ?? [];
    if (n.opType === 'Gemm' && b && inits.has(b)) {
      if (a && inits.has(a)) throw refuse(n, a, 'as its left operand');
      if (attrInt(n, 'transA', 0) !== 0) throw refuse(n, b, 'with transA = 1');
      const w = inits.get(b)!;
      const outFirst = attrInt(n, 'transB', 0) === 1;
      const dims = (w.dims ?? []).map(Number) as [number, number];
      const units = outFirst ? dims[0] : dims[1];
      const biasT = c ? inits.get(c) : undefined;
      if (biasT && sizeOf(biasT) !== units && sizeOf(biasT) !== 1) throw refuse(n, c!, `as a bias of shape [${(biasT.dims ?? []).join(', ')}] (needs [${units}] or one value)`);
      const find = (name: string) => n.attribute?.find((x) => x.name === name)?.f;
      const weightOffset = claim(b, w);
      const biasOffset = biasT ? claim(c!, biasT) : -1;
      layers.push({ op: 'Gemm', node: n.name ?? '', input: a!, output: n.output![0]!, weight: b, weightDims: dims, outFirst, alpha: find('alpha') ?? 1, weightOffset, ...(biasT ? { bias: c! } : {}), biasSize: biasT ? sizeOf(biasT) : 0, beta: find('beta') ?? 1, biasOffset, units });
    } else if (n.opType === 'MatMul' && ((a && inits.has(a)) || (b && inits.has(b)))) {
      if (a && inits.has(a)) throw refuse(n, a, 'as its left operand');
      const w = inits.get(b!)!;
      if ((w.dims ?? []).length !== 2) throw refuse(n, b!, `of rank ${(w.dims ?? []).length} (needs a 2-D weight)`);
      const dims = (w.dims ?? []).map(Number) as [number, number];
      const out = n.output![0]!;
      const next = consumers.get(out) ?? [];
      const add = next.length === 1 && next[0]!.opType === 'Add' ? next[0]! : undefined;
      const other = add ? (add.input ?? []).find((i) => i !== out) : undefined;
      const biasT = other ? inits.get(other) : undefined;
      const hasBias = biasT !== undefined && (sizeOf(biasT) === dims[1] || sizeOf(biasT) === 1) && (biasT.dims ?? []).slice(0, -1).every((d) => Number(d) === 1);
      const weightOffset = claim(b!, w);
      const biasOffset = hasBias ? claim(other!, biasT) : -1;
      layers.push({ op: 'MatMul', node: n.name ?? '', input: a!, output: out, weight: b!, weightDims: dims, outFirst: false, alpha: 1, weightOffset, ...(hasBias ? { bias: other! } : {}), biasSize: hasBias ? sizeOf(biasT) : 0, beta: 1, biasOffset, units: dims[1] });
    }
  }
  for (const [name, t] of inits) {
    const users = consumers.get(name) ?? [];
    if (users.length === 0 || sizeOf(t) <= 1) continue;
    if (claimed.has(name) && users.length > 1) throw refuse(users[1]!, name, 'which another node also uses (shared weights)');
    if (!claimed.has(name)) throw refuse(users[0]!, name, 'as an input');
  }
  if (layers.length === 0) throw new CapabilityError(`The ONNX model has no Gemm or MatMul layer with a constant weight before output '${output}'; there are no parameters to attribute to`, { output });
  return { layers, parameters };
}
