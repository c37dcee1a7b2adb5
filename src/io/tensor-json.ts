import { preview } from '../core/preview.js';
import { FileFormatError } from '../core/errors.js';

/** A tensor as plain data: the interchange form of the `.json` and `.npy` readers. */
export interface TensorData {
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
  readonly data: Float32Array | Int32Array;
}

/** Largest tensor the readers accept (elements), so that a hostile file cannot exhaust memory. */
export const MAX_ELEMENTS = 1 << 28;

/**
 * Parses tensor JSON: `{"shape": [...], "data": [...]}` (row-major, optional `"dtype"`), or nested
 * arrays (`[[1, 2], [3, 4]]`). Every value must be a finite number and the data must fill the shape.
 */
export function parseTensorJson(text: string, source = 'tensor JSON'): TensorData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(`${source} is not valid JSON: ${(e as Error).message}`, { source }, e);
  }
  return tensorFromJsonValue(value, source);
}

export function tensorFromJsonValue(value: unknown, source: string): TensorData {
  if (Array.isArray(value)) {
    const shape = nestedShape(value, source);
    const flat = (value as unknown[]).flat(Infinity as 1) as unknown[];
    return build(shape, flat, 'float32', source);
  }
  if (value && typeof value === 'object' && 'shape' in value && 'data' in value) {
    const v = value as { shape: unknown; data: unknown; dtype?: unknown };
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new FileFormatError(`${source}: "shape" must be an array of non-negative integers`, { source });
    }
    if (!Array.isArray(v.data)) throw new FileFormatError(`${source}: "data" must be a flat array of numbers`, { source });
    const dtype = v.dtype === 'int32' || v.dtype === 'int64' ? 'int32' : 'float32';
    return build(v.shape as number[], (v.data as unknown[]).flat(Infinity as 1) as unknown[], dtype, source);
  }
  throw new FileFormatError(`${source} must be {"shape": [...], "data": [...]} or nested arrays of numbers`, { source });
}

function nestedShape(v: unknown[], source: string): number[] {
  const shape: number[] = [];
  let cur: unknown = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  if (shape.length === 0) throw new FileFormatError(`${source}: empty tensor`, { source });
  return shape;
}

function build(shape: readonly number[], flat: unknown[], dtype: 'float32' | 'int32', source: string): TensorData {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size > MAX_ELEMENTS) throw new FileFormatError(`${source}: ${size} elements exceed the limit of ${MAX_ELEMENTS}`, { source, size });
  if (flat.length !== size) {
    throw new FileFormatError(`${source}: shape [${shape.join(', ')}] needs ${size} values, got ${flat.length} (ragged nesting or wrong shape)`, {
      source,
      expected: size,
      actual: flat.length,
    });
  }
  const data = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const x = flat[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      // JSON.parse reads 1e999 as Infinity; JSON.stringify would print it as null
      const shown = typeof x === 'number' ? `${String(x)}${Number.isNaN(x) ? '' : ' (beyond float64, e.g. 1e999)'}` : preview(x);
      throw new FileFormatError(`${source}: value at flat index ${i} is ${shown}, not a finite number`, { source, index: i, value: typeof x === 'number' ? String(x) : x });
    }
    if (dtype !== 'int32' && Math.abs(x) > 3.4028234663852886e38) {
      throw new FileFormatError(`${source}: value at flat index ${i} is ${x}, beyond float32 (±3.4e38)`, { source, index: i, value: String(x) });
    }
    data[i] = x;
  }
  return { shape: [...shape], dtype, data };
}

/** `{"shape", "dtype", "data"}` with the shortest float32 round-trip representation of each value. */
export function tensorToJsonValue(t: TensorData): { shape: number[]; dtype: string; data: number[] } {
  return { shape: [...t.shape], dtype: t.dtype, data: Array.from(t.data, (v) => (t.dtype === 'float32' ? shortestFloat32(v) : v)) };
}

/** The shortest decimal that reads back as the same float32. */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const c = Number(f.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return f;
}
