// Small helpers to read and write ONNX graph pieces (attributes, nodes, constant tensors).
import { onnx, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from './proto.js';

const AT = onnx.AttributeProto.AttributeType;

const toNum = (v: number | { toNumber(): number } | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

/** An attribute's value: number, number[], string or undefined when absent. */
export function attr(node: NodeProto, name: string): number | number[] | string | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  switch (a.type) {
    case AT.FLOAT:
      return a.f ?? 0;
    case AT.INT:
      return toNum(a.i as number);
    case AT.INTS:
      return (a.ints ?? []).map((v) => toNum(v as number));
    case AT.FLOATS:
      return [...(a.floats ?? [])];
    case AT.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    default:
      return undefined;
  }
}

export const attrInt = (n: NodeProto, name: string, dflt: number): number => {
  const v = attr(n, name);
  return typeof v === 'number' ? v : dflt;
};
export const attrInts = (n: NodeProto, name: string, dflt: number[]): number[] => {
  const v = attr(n, name);
  return Array.isArray(v) ? v : dflt;
};

export function intsAttr(name: string, values: readonly number[]): AttributeProto {
  return { name, type: AT.INTS, ints: [...values] };
}
export function intAttr(name: string, value: number): AttributeProto {
  return { name, type: AT.INT, i: value };
}
export function floatAttr(name: string, value: number): AttributeProto {
  return { name, type: AT.FLOAT, f: value };
}

/** Fresh tensor names `prefix_hint_k` that avoid every name in `taken` (each name given is added to it). */
export function freshNames(prefix: string, taken: Set<string>): (hint: string) => string {
  let counter = 0;
  return (hint) => {
    let name: string;
    do name = `${prefix}_${hint}_${counter++}`;
    while (taken.has(name));
    taken.add(name);
    return name;
  };
}

export function node(opType: string, inputs: string[], outputs: string[], attributes: AttributeProto[] = [], name?: string): NodeProto {
  return { opType, input: inputs, output: outputs, attribute: attributes, name: name ?? outputs[0] ?? opType, domain: '' };
}

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return { name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) };
}
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  return { name, dims: [...dims], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer) };
}

export interface ValueSpec {
  readonly name: string;
  /** Dims; a string for a symbolic (dynamic) dim. */
  readonly shape: readonly (number | string)[];
  readonly elemType?: number;
}

/** A ModelProto from nodes, float inputs/outputs and initializers (used to build small test graphs). */
export function makeModel(spec: {
  readonly nodes: readonly NodeProto[];
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly initializers?: readonly TensorProto[];
  readonly opset?: number;
}): ModelProto {
  const value = (v: ValueSpec) => ({
    name: v.name,
    type: { tensorType: { elemType: v.elemType ?? onnx.TensorProto.DataType.FLOAT, shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  return onnx.ModelProto.fromObject({
    irVersion: 7,
    producerName: 'attrib',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: 'g',
      node: spec.nodes.map((n) => ({ ...n })),
      input: spec.inputs.map(value),
      output: spec.outputs.map(value),
      initializer: (spec.initializers ?? []).map((t) => ({ ...t })),
    },
  });
}

/** The values of an int64 tensor (raw or typed field), or undefined for other element types. */
export function int64Values(t: TensorProto | undefined): number[] | undefined {
  if (!t || t.dataType !== onnx.TensorProto.DataType.INT64) return undefined;
  const raw = t.rawData;
  if (raw && raw.length > 0) return Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
  return (t.int64Data ?? []).map((v) => toNum(v as number));
}

/** The values of a float32 tensor (raw or typed field), or undefined for other element types. */
export function floatValues(t: TensorProto | undefined): Float32Array | undefined {
  if (!t || t.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  const raw = t.rawData;
  if (raw && raw.length > 0) return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return Float32Array.from(t.floatData ?? []);
}

/** Row-major `values` of shape `dims` transposed by `perm` (output axis k = input axis perm[k]). */
export function permute(values: ArrayLike<number>, dims: readonly number[], perm: readonly number[]): Float32Array {
  const rank = dims.length;
  const outDims = perm.map((k) => dims[k]!);
  const inStrides = new Array<number>(rank);
  for (let k = rank - 1, s = 1; k >= 0; k--) inStrides[k] = s, (s *= dims[k]!);
  const out = new Float32Array(values.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k]! * inStrides[perm[k]!]!;
    out[o] = values[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outDims[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}
