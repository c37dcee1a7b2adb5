// Model inputs fixed at load: each becomes an initializer of the graph, so ONNX Runtime and the
// backward compiler see a constant. A run-time switch such as Silero VAD's sample rate (`sr`,
// a scalar that picks the 8 kHz or 16 kHz branch of an If) is then decided once: the If is inlined
// and gradients flow through the branch taken.
import { InvalidArgumentError } from '../../../core/errors.js';
import { graphOf, onnx, type ModelProto, type TensorProto } from '../graph/proto.js';

const T = onnx.TensorProto.DataType;

/** One fixed input: a number (scalar or one-element input) or the values of a tensor, row-major. */
export type ConstantInput = number | readonly number[];

function tensor(name: string, elemType: number, dims: readonly number[], values: readonly number[]): TensorProto {
  const raw =
    elemType === T.INT64 ? new Uint8Array(BigInt64Array.from(values, (v) => BigInt(Math.round(v))).buffer)
    : elemType === T.INT32 ? new Uint8Array(Int32Array.from(values, (v) => Math.round(v)).buffer)
    : elemType === T.DOUBLE ? new Uint8Array(Float64Array.from(values).buffer)
    : elemType === T.BOOL ? Uint8Array.from(values, (v) => Number(v !== 0))
    : new Uint8Array(Float32Array.from(values).buffer);
  return onnx.TensorProto.fromObject({ name, dims: [...dims], dataType: elemType, rawData: raw });
}

/**
 * A copy of `model` whose inputs named in `values` are initializers holding those values (their
 * declared element type; their declared shape, which must be static unless it is a scalar or one
 * dynamic dim). `attributed` is the input attributions are computed for: it cannot be fixed.
 * @throws {InvalidArgumentError} `invalid_argument` for a name that is not a graph input, the
 *   attributed input, a non-numeric element type, or a number of values the shape does not hold.
 */
export function fixInputs(model: ModelProto, values: Readonly<Record<string, ConstantInput>>, attributed: string | undefined, fn: string): ModelProto {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = graphOf(copy);
  const inits = new Set(g.initializer.map((t) => t.name ?? ''));
  const inputs = (g.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  const first = attributed ?? inputs[0]?.name ?? undefined;
  for (const [name, value] of Object.entries(values)) {
    const input = inputs.find((i) => i.name === name);
    const names = inputs.map((i) => i.name).join(', ');
    if (!input) throw new InvalidArgumentError(`Option 'constantInputs' passed to '${fn}' names '${name}', which is not an input of the model (its inputs: ${names})`, { arg: 'constantInputs', input: name });
    if (name === first) throw new InvalidArgumentError(`Option 'constantInputs' passed to '${fn}' fixes '${name}', the input attributions are computed for; fix only the model's other inputs`, { arg: 'constantInputs', input: name });
    const elemType = input.type?.tensorType?.elemType ?? T.FLOAT;
    if (![T.FLOAT, T.DOUBLE, T.INT64, T.INT32, T.BOOL].includes(elemType)) {
      throw new InvalidArgumentError(`Option 'constantInputs' passed to '${fn}': input '${name}' has element type ${onnx.TensorProto.DataType[elemType] ?? elemType}; only float, double, int32, int64 and bool inputs can be fixed`, { arg: 'constantInputs', input: name });
    }
    const vals = typeof value === 'number' ? [value] : [...value];
    if (vals.length === 0 || vals.length > 1 << 24 || !vals.every(Number.isFinite)) {
      throw new InvalidArgumentError(`Option 'constantInputs' passed to '${fn}': input '${name}' needs 1 to 2^24 finite numbers, got ${vals.length}`, { arg: 'constantInputs', input: name });
    }
    const declared = (input.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : null));
    const dynamic = declared.filter((d) => d === null).length;
    const dims = dynamic === 0 ? (declared as number[]) : dynamic === 1 ? declared.map((d) => d ?? vals.length / declared.reduce<number>((a, x) => a * (x ?? 1), 1)) : undefined;
    if (!dims || !dims.every(Number.isInteger) || dims.reduce((a, d) => a * d, 1) !== vals.length) {
      throw new InvalidArgumentError(`Option 'constantInputs' passed to '${fn}': input '${name}' has shape [${declared.map((d) => d ?? '?').join(', ')}], which ${vals.length} value(s) do not fill`, { arg: 'constantInputs', input: name, values: vals.length });
    }
    g.initializer.push(tensor(name, elemType, dims, vals));
    g.input.splice(g.input.indexOf(input), 1);
  }
  return copy;
}
