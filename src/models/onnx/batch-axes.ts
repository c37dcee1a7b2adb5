// Where each ONNX input keeps its batch: the attributed input on axis 0 (possibly fixed at one
// row per run), extra inputs on any axis (recurrent state [layers, batch, hidden]) or on none (a
// scalar sample rate shared by every row). Callers always pass extra inputs with one row per input
// row on axis 0 (`CallContext.inputs`); this moves that axis to where the model wants it.
import { InvalidArgumentError } from '../../core/errors.js';

/** A model input's declared shape (numbers, symbolic names, or unknown). */
export type DeclaredShape = readonly (number | string | null | undefined)[] | undefined;

/**
 * The batch axis of each extra input: `given` when the option names it, else the axis whose
 * symbolic dim has the name of the attributed input's batch dim (`[2, 'batch', 128]` with input
 * `['batch', 512]` → 1), else none for a rank-0 input, else 0.
 * @throws {InvalidArgumentError} `invalid_argument` for an axis outside the input's rank or a name
 *   that is not an extra input.
 */
export function resolveBatchAxes(
  given: Readonly<Record<string, number | null>> | undefined,
  main: DeclaredShape,
  extras: readonly { readonly name: string; readonly shape: DeclaredShape }[],
  fn: string,
): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const name of Object.keys(given ?? {})) {
    if (!extras.some((e) => e.name === name)) {
      throw new InvalidArgumentError(`Option 'inputBatchAxes' passed to '${fn}' names '${name}', which is not one of the model's other inputs (${extras.map((e) => e.name).join(', ') || 'none'})`, { arg: 'inputBatchAxes', input: name });
    }
  }
  const batchName = typeof main?.[0] === 'string' ? main[0] : undefined;
  for (const { name, shape } of extras) {
    const axis = given?.[name];
    if (axis !== undefined) {
      if (axis !== null && (!Number.isInteger(axis) || axis < 0 || (shape && axis >= Math.max(shape.length, 1)))) {
        throw new InvalidArgumentError(`Option 'inputBatchAxes' passed to '${fn}' gives input '${name}' the batch axis ${axis}; it must be null (no batch axis) or an integer in [0, ${Math.max((shape?.length ?? 1) - 1, 0)}]`, {
          arg: 'inputBatchAxes',
          input: name,
          value: axis,
        });
      }
      out.set(name, axis);
      continue;
    }
    const named = batchName === undefined ? -1 : (shape ?? []).findIndex((d) => d === batchName);
    out.set(name, named >= 0 ? named : shape && shape.length === 0 ? null : 0);
  }
  return out;
}

/**
 * Rows gathered as [rows, ...rowShape] laid out for the model: axis 0 moved to `axis`, or, for no
 * batch axis (`null`), the one row every row shares (they must be equal).
 * @throws {InvalidArgumentError} `invalid_argument` when an input without a batch axis differs between rows.
 */
export function placeRows<T extends Float32Array | Int32Array>(data: T, shape: readonly number[], axis: number | null, input: string): { data: T; shape: number[] } {
  const rows = shape[0]!;
  const rowShape = shape.slice(1);
  const per = rows === 0 ? 0 : data.length / rows;
  if (axis === null) {
    const first = data.subarray(0, per) as T;
    for (let r = 1; r < rows; r++) {
      for (let k = 0; k < per; k++) {
        if (data[r * per + k] !== first[k]) {
          throw new InvalidArgumentError(`Input '${input}' has no batch axis in the model, so every row must hold the same value; rows 0 and ${r} differ (run them separately)`, { arg: 'inputs', input, row: r });
        }
      }
    }
    return { data: first, shape: rowShape };
  }
  if (axis === 0) return { data, shape: [...shape] };
  // [rows, pre, post] → [pre, rows, post], with pre = ∏ rowShape[0..axis)
  const pre = rowShape.slice(0, axis).reduce((a, b) => a * b, 1);
  const post = per / Math.max(pre, 1);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let r = 0; r < rows; r++) for (let p = 0; p < pre; p++) out.set(data.subarray(r * per + p * post, r * per + (p + 1) * post), (p * rows + r) * post);
  return { data: out, shape: [...rowShape.slice(0, axis), rows, ...rowShape.slice(axis)] };
}
