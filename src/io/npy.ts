import { preview } from '../core/preview.js';
import { FileFormatError } from '../core/errors.js';
import { MAX_ELEMENTS, type TensorData } from './tensor-json.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER = 1 << 16;

/** What an .npy header says: shape, element type, byte order, and where the data start. */
export interface NpyHeader {
  readonly shape: readonly number[];
  /** 'f4', 'f8', 'i4', 'i8', 'u1' or 'b1'. */
  readonly type: string;
  readonly itemSize: number;
  readonly bigEndian: boolean;
  /** Byte offset of the first element. */
  readonly dataStart: number;
  /** Elements in all (the product of the shape). */
  readonly size: number;
}

/** Bytes of the file's start that always hold a whole header (the magic, version, length and dict). */
export const NPY_HEADER_BYTES = 12 + MAX_HEADER;

/**
 * Parses the header of a NumPy `.npy` file (versions 1–3, C order) from its first bytes (at least the
 * whole header; {@link NPY_HEADER_BYTES} always suffice), without evaluating it: the dict is read with
 * a strict pattern. No element count limit is applied here.
 * @throws {FileFormatError} on bad magic bytes, an unsupported version, dtype or Fortran order, or a malformed header.
 */
export function parseNpyHeader(bytes: Uint8Array, source = '.npy file'): NpyHeader {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new FileFormatError(`${source} is not a .npy file (bad magic bytes)`, { source });
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let offset: number;
  if (major === 1) (headerLen = view.getUint16(8, true)), (offset = 10);
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FileFormatError(`${source} is truncated`, { source });
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else throw new FileFormatError(`${source}: unsupported .npy version ${major}`, { source, version: major });
  if (headerLen > MAX_HEADER || offset + headerLen > bytes.length) throw new FileFormatError(`${source}: header length ${headerLen} is invalid`, { source });
  const header = new TextDecoder('latin1').decode(bytes.subarray(offset, offset + headerLen));
  const descr = /'descr'\s*:\s*'([<>|=]?)([a-zA-Z])(\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([\d\s,]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw new FileFormatError(`${source}: cannot read the header ${preview(header.trim())}`, { source });
  if (fortran[1] === 'True') throw new FileFormatError(`${source}: Fortran-order arrays are not supported; save with np.ascontiguousarray`, { source });
  const shape = shapeM[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new FileFormatError(`${source}: invalid shape (${shapeM[1]})`, { source });
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(size)) throw new FileFormatError(`${source}: shape (${shapeM[1]}) has too many elements`, { source });
  const [, order, kind, widthS] = descr;
  const type = `${kind}${widthS}`;
  const itemSize = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, b1: 1 }[type];
  if (!itemSize) throw new FileFormatError(`${source}: dtype '${type}' is not supported (float32, float64, int32, int64, uint8, bool)`, { source, dtype: type });
  return { shape, type, itemSize, bigEndian: order === '>', dataStart: offset + headerLen, size };
}

/** True when the header's elements are integers (int32, int64, uint8, bool): read as int32. */
export const npyIsInt = (h: NpyHeader): boolean => h.type[0] !== 'f';

/**
 * Decodes `out.length` elements of `h`'s type from `dv` into `out` (float64 narrowed to float32 and
 * int64 to int32, as {@link parseNpy} does); `first` is the index of the first element (for errors).
 */
export function decodeNpy(dv: DataView, h: NpyHeader, out: Float32Array | Int32Array | Float64Array, first: number, source: string): void {
  const little = !h.bigEndian;
  for (let i = 0; i < out.length; i++) {
    let v: number;
    switch (h.type) {
      case 'f4':
        v = dv.getFloat32(i * 4, little);
        break;
      case 'f8':
        v = Math.fround(dv.getFloat64(i * 8, little));
        break;
      case 'i4':
        v = dv.getInt32(i * 4, little);
        break;
      case 'i8': {
        const b = dv.getBigInt64(i * 8, little);
        if (b > 2147483647n || b < -2147483648n) throw new FileFormatError(`${source}: int64 value ${b} at index ${first + i} does not fit in int32`, { source });
        v = Number(b);
        break;
      }
      default:
        v = dv.getUint8(i);
    }
    out[i] = v;
  }
}

/**
 * Reads a NumPy `.npy` file (versions 1–3, C order) of float32, float64, int32, int64, uint8 or bool,
 * without evaluating its header: the header dict is parsed with a strict pattern. float64 is narrowed
 * to float32 and int64 to int32 (values outside int32 are rejected).
 */
export function parseNpy(bytes: Uint8Array, source = '.npy file'): TensorData {
  const h = parseNpyHeader(bytes, source);
  const { shape, size } = h;
  if (size > MAX_ELEMENTS) throw new FileFormatError(`${source}: ${size} elements exceed the limit of ${MAX_ELEMENTS}`, { source, size });
  const need = size * h.itemSize;
  if (bytes.length - h.dataStart < need) {
    throw new FileFormatError(`${source} is truncated: shape [${shape.join(', ')}] needs ${need} data bytes, found ${bytes.length - h.dataStart}`, { source });
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + h.dataStart, need);
  const isInt = npyIsInt(h);
  const data = isInt ? new Int32Array(size) : new Float32Array(size);
  decodeNpy(dv, h, data, 0, source);
  return { shape: [...shape], dtype: isInt ? 'int32' : 'float32', data };
}

/** Writes a little-endian C-order `.npy` (version 1.0) of float32 or int32 data. */
export function encodeNpy(t: TensorData): Uint8Array {
  const descr = t.dtype === 'int32' ? '<i4' : '<f4';
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + t.data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const dv = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < t.data.length; i++) {
    if (t.dtype === 'int32') dv.setInt32(i * 4, t.data[i]!, true);
    else dv.setFloat32(i * 4, t.data[i]!, true);
  }
  return out;
}
