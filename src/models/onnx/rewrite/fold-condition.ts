// The value of a small integer or boolean tensor computed from constants only — what an If's
// condition is once a model's run-time switch (Silero VAD's sample rate) is fixed:
// `Equal(Gather(Reshape(sr, [-1]), 0), 16000)`. Only shape-free ops on at most MAX_ELEMENTS
// elements are evaluated; anything else leaves the value unknown (the If then stays, and is refused
// by name on the gradient path).
import { attr } from '../graph/build.js';
import { onnx, type NodeProto, type TensorProto } from '../graph/proto.js';

/** A small constant: its dims and its values as numbers (booleans as 0/1). */
export interface SmallValue {
  readonly dims: readonly number[];
  readonly values: readonly number[];
}

const MAX_ELEMENTS = 64;
const T = onnx.TensorProto.DataType;

/** The values of a small constant tensor of any numeric or boolean type, raw or typed. */
export function smallValue(t: TensorProto | undefined): SmallValue | undefined {
  if (!t) return undefined;
  const dims = (t.dims ?? []).map(Number);
  const n = dims.reduce((a, d) => a * d, 1);
  if (n > MAX_ELEMENTS) return undefined;
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const width = t.dataType === T.INT64 || t.dataType === T.DOUBLE ? 8 : t.dataType === T.INT32 || t.dataType === T.FLOAT ? 4 : 1;
    // a malformed initializer (bytes that are not n elements) is not folded: ORT refuses it with a typed error later
    if (raw.byteLength !== n * width) return undefined;
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const typed: ArrayLike<number | bigint> | undefined =
      t.dataType === T.INT64 ? new BigInt64Array(buf)
      : t.dataType === T.INT32 ? new Int32Array(buf)
      : t.dataType === T.FLOAT ? new Float32Array(buf)
      : t.dataType === T.DOUBLE ? new Float64Array(buf)
      : t.dataType === T.BOOL || t.dataType === T.UINT8 ? new Uint8Array(buf)
      : t.dataType === T.INT8 ? new Int8Array(buf)
      : undefined;
    if (!typed || typed.length !== n) return undefined;
    return { dims, values: Array.from(typed, Number) };
  }
  const field = [t.int64Data, t.int32Data, t.floatData, t.doubleData].find((v) => v && v.length > 0);
  const values = (field ?? []).map((v) => Number(v));
  return values.length === n ? { dims, values } : undefined;
}

const size = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

/** Numpy broadcasting of two small values through `f`. */
function broadcast(a: SmallValue, b: SmallValue, f: (x: number, y: number) => number): SmallValue | undefined {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: readonly number[]) => [...new Array<number>(rank - d.length).fill(1), ...d];
  const [da, db] = [pad(a.dims), pad(b.dims)];
  const dims: number[] = [];
  for (let k = 0; k < rank; k++) {
    if (da[k] !== db[k] && da[k] !== 1 && db[k] !== 1) return undefined;
    dims.push(Math.max(da[k]!, db[k]!));
  }
  const index = (d: readonly number[], flat: number) => {
    let i = 0;
    let rest = flat;
    let stride = 1;
    for (let k = rank - 1; k >= 0; k--) {
      const c = rest % dims[k]!;
      rest = Math.floor(rest / dims[k]!);
      if (d[k] !== 1) i += c * stride;
      stride *= d[k]!;
    }
    return i;
  };
  return { dims, values: Array.from({ length: size(dims) }, (_, i) => f(a.values[index(da, i)]!, b.values[index(db, i)]!)) };
}

const COMPARE: Readonly<Record<string, (x: number, y: number) => number>> = {
  Equal: (x, y) => Number(x === y),
  Greater: (x, y) => Number(x > y),
  Less: (x, y) => Number(x < y),
  GreaterOrEqual: (x, y) => Number(x >= y),
  LessOrEqual: (x, y) => Number(x <= y),
  And: (x, y) => Number(x !== 0 && y !== 0),
  Or: (x, y) => Number(x !== 0 || y !== 0),
};

/** Reshape's target dims (0 copies, one -1 is inferred), or undefined when they do not fit. */
function reshapeDims(from: readonly number[], spec: readonly number[]): number[] | undefined {
  const dims = spec.map((d, k) => (d === 0 ? from[k] ?? 0 : d));
  const known = dims.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
  const free = dims.indexOf(-1);
  if (free >= 0) dims[free] = known > 0 ? size(from) / known : 0;
  return Number.isInteger(dims[free] ?? 0) && size(dims) === size(from) ? dims : undefined;
}

/** The node's output value from its (known) input values, or undefined for an op not folded here. */
function evaluate(n: NodeProto, inputs: readonly SmallValue[]): SmallValue | undefined {
  const op = n.opType ?? '';
  const [a, b] = inputs;
  if (!a) return undefined;
  if (COMPARE[op]) return b ? broadcast(a, b, COMPARE[op]!) : undefined;
  if (op === 'Not') return { dims: a.dims, values: a.values.map((v) => Number(v === 0)) };
  if (op === 'Identity') return a;
  if (op === 'Cast') {
    const to = Number(attr(n, 'to'));
    const integer = to !== T.FLOAT && to !== T.DOUBLE && to !== T.FLOAT16 && to !== T.BFLOAT16;
    return { dims: a.dims, values: a.values.map((v) => (to === T.BOOL ? Number(v !== 0) : integer ? Math.trunc(v) : v)) };
  }
  if (op === 'Reshape') {
    const dims = b ? reshapeDims(a.dims, b.values) : undefined;
    return dims ? { dims, values: a.values } : undefined;
  }
  if (op === 'Squeeze' || op === 'Unsqueeze') {
    const axes = b?.values ?? (attr(n, 'axes') as number[] | undefined);
    if (op === 'Squeeze') {
      const rank = a.dims.length;
      const drop = new Set((axes ?? a.dims.flatMap((d, k) => (d === 1 ? [k] : []))).map((k) => (k < 0 ? k + rank : k)));
      return { dims: a.dims.filter((_, k) => !drop.has(k)), values: a.values };
    }
    if (!axes) return undefined;
    const rank = a.dims.length + axes.length;
    const add = new Set(axes.map((k) => (k < 0 ? k + rank : k)));
    const dims: number[] = [];
    let j = 0;
    for (let k = 0; k < rank; k++) dims.push(add.has(k) ? 1 : a.dims[j++]!);
    return { dims, values: a.values };
  }
  if (op === 'Gather' && b) {
    const rank = a.dims.length;
    const axisAttr = Number(attr(n, 'axis') ?? 0);
    const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
    if (axis < 0 || axis >= rank) return undefined;
    const outer = size(a.dims.slice(0, axis));
    const inner = size(a.dims.slice(axis + 1));
    const len = a.dims[axis]!;
    const values: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const raw of b.values) {
        const i = raw < 0 ? raw + len : raw;
        if (i < 0 || i >= len) return undefined;
        for (let k = 0; k < inner; k++) values.push(a.values[(o * len + i) * inner + k]!);
      }
    }
    return { dims: [...a.dims.slice(0, axis), ...b.dims, ...a.dims.slice(axis + 1)], values };
  }
  return undefined;
}

/**
 * The value of tensor `name`, when it is a small constant or is computed from small constants by
 * comparisons, logic, Cast, Identity, Reshape, (Un)squeeze and Gather; undefined otherwise.
 * `producers` maps each tensor to the node computing it; `constants` holds initializers and Constant outputs.
 */
export function foldSmall(name: string, producers: ReadonlyMap<string, NodeProto>, constants: ReadonlyMap<string, TensorProto>, depth = 0): SmallValue | undefined {
  const c = constants.get(name);
  if (c) return smallValue(c);
  const n = producers.get(name);
  if (!n || depth > 16 || (n.domain ?? '') !== '') return undefined;
  const inputs: SmallValue[] = [];
  for (const i of n.input ?? []) {
    if (!i) continue;
    const v = foldSmall(i, producers, constants, depth + 1);
    if (!v) return undefined;
    inputs.push(v);
  }
  const out = evaluate(n, inputs);
  return out && out.values.length <= MAX_ELEMENTS ? out : undefined;
}
