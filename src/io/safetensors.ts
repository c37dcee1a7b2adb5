// A defensive reader of safetensors bytes (Hugging Face's weight format): the file is untrusted, so
// every length, offset, dtype and shape is checked before any tensor is decoded.
import { preview } from '../core/preview.js';
import { FileFormatError } from '../core/errors.js';
import type { WeightStore, WeightTensor } from '../models/transformer/weights.js';

/** Element types decoded (to float32) by `get`. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const DECODED: ReadonlySet<string> = new Set<SafetensorsDtype>(['F32', 'F16', 'BF16', 'F64']);
/** Item sizes of every safetensors dtype: all are checked in the header, only the float ones decode. */
const ITEM_SIZE: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };

/** Caps on what one file may declare. */
export interface SafetensorsLimits {
  /** Bytes of the JSON header. Default 100 MB (Hugging Face's own cap). */
  readonly maxHeaderBytes?: number;
  /** Tensors in one file. Default 100 000. */
  readonly maxTensors?: number;
  /** Bytes of tensor data declared by one file (or, for a folder, by all shards together). Default 8 GiB. */
  readonly maxTotalBytes?: number;
}

export const DEFAULT_SAFETENSORS_LIMITS = { maxHeaderBytes: 100_000_000, maxTensors: 100_000, maxTotalBytes: 8 * 2 ** 30 } as const;
const MAX_RANK = 8;

/** One tensor's header entry. */
export interface SafetensorsEntry {
  readonly name: string;
  /** Any safetensors dtype (F32, F16, BF16, F64 decode; integer and bool tensors, e.g. buffers, are only listed). */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range in the data section (relative to the first byte after the header). */
  readonly begin: number;
  readonly end: number;
}

/** A parsed, validated safetensors file: entries from its header, tensors decoded on request. */
export class SafetensorsFile implements WeightStore {
  private constructor(
    private readonly data: Uint8Array,
    readonly entries: ReadonlyMap<string, SafetensorsEntry>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly source: string,
  ) {}

  /**
   * Parses `bytes` (the whole file). Cost: O(header) to validate; tensors decode lazily in `get`.
   * @throws {FileFormatError} `invalid_file` naming the field or tensor that is wrong: a header length
   *   over the cap or past the end of the file, JSON that does not parse, an unknown dtype,
   *   a shape whose size × item size differs from its offsets' span, offsets outside the data or
   *   overlapping another tensor's, or more tensors or bytes than the limits allow.
   */
  static parse(bytes: Uint8Array, source = 'safetensors file', limits: SafetensorsLimits = {}): SafetensorsFile {
    const lim = { ...DEFAULT_SAFETENSORS_LIMITS, ...limits };
    const fail = (msg: string, details: Record<string, unknown> = {}) => new FileFormatError(`${source}: ${msg}`, { source, ...details });
    if (bytes.length < 8) throw fail(`is ${bytes.length} bytes long; a safetensors file starts with an 8-byte header length`, { field: 'header_length' });
    const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLen > BigInt(lim.maxHeaderBytes)) throw fail(`header length ${headerLen} exceeds the cap of ${lim.maxHeaderBytes} bytes`, { field: 'header_length', headerLength: Number(headerLen) });
    const n = Number(headerLen);
    if (8 + n > bytes.length) throw fail(`header length ${n} runs past the end of the file (${bytes.length} bytes)`, { field: 'header_length', headerLength: n });
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
    } catch (e) {
      throw new FileFormatError(`${source}: the JSON header does not parse: ${(e as Error).message}`, { source, field: 'header' }, e);
    }
    if (!isRecord(header)) throw fail('the JSON header must be an object of tensors', { field: 'header' });
    const dataLen = bytes.length - 8 - n;
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    let total = 0;
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = readMetadata(raw, fail);
        continue;
      }
      if (entries.size >= lim.maxTensors) throw fail(`declares more than ${lim.maxTensors} tensors`, { field: 'header', maxTensors: lim.maxTensors });
      const entry = readEntry(name, raw, dataLen, fail);
      total += entry.end - entry.begin;
      if (total > lim.maxTotalBytes) throw fail(`tensors declare more than ${lim.maxTotalBytes} bytes of data (at '${name}')`, { tensor: name, maxTotalBytes: lim.maxTotalBytes });
      entries.set(name, entry);
    }
    const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < sorted.length; i++) {
      const [prev, cur] = [sorted[i - 1]!, sorted[i]!];
      if (cur.begin < prev.end) throw fail(`tensor '${cur.name}' (bytes ${cur.begin}–${cur.end}) overlaps tensor '${prev.name}' (bytes ${prev.begin}–${prev.end})`, { tensor: cur.name, field: 'data_offsets', overlaps: prev.name });
    }
    return new SafetensorsFile(bytes.subarray(8 + n), entries, metadata, source);
  }

  get names(): readonly string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * The tensor `name` decoded to float32 (a fresh array the caller owns).
   * @throws {FileFormatError} `invalid_file` when the file has no such tensor (details.tensor names it).
   */
  get(name: string): WeightTensor {
    const e = this.entries.get(name);
    if (!e) throw new FileFormatError(`${this.source} has no tensor '${name}'`, { source: this.source, tensor: name });
    if (!DECODED.has(e.dtype)) {
      throw new FileFormatError(`${this.source}: tensor '${name}' has dtype ${e.dtype}; only F32, F16, BF16 and F64 tensors are read as weights`, { source: this.source, tensor: name, field: 'dtype', dtype: e.dtype });
    }
    return { shape: e.shape, data: decode(this.data.subarray(e.begin, e.end), e.dtype as SafetensorsDtype) };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type Fail = (msg: string, details?: Record<string, unknown>) => FileFormatError;

function readMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (!isRecord(raw)) throw fail("'__metadata__' must be an object of strings", { field: '__metadata__' });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw fail(`'__metadata__.${k}' must be a string, got ${typeof v}`, { field: `__metadata__.${k}` });
    out[k] = v;
  }
  return out;
}

function readEntry(name: string, raw: unknown, dataLen: number, fail: Fail): SafetensorsEntry {
  if (!isRecord(raw)) throw fail(`tensor '${name}' must be an object with dtype, shape and data_offsets`, { tensor: name });
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !Object.hasOwn(ITEM_SIZE, dtype)) {
    throw fail(`tensor '${name}' has dtype ${preview(dtype)}, which is not a safetensors dtype (${Object.keys(ITEM_SIZE).join(', ')})`, { tensor: name, field: 'dtype', dtype });
  }
  const dt = dtype;
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw fail(`tensor '${name}' has shape ${preview(shape)}; it must be a list of at most ${MAX_RANK} non-negative integers`, { tensor: name, field: 'shape' });
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw fail(`tensor '${name}' has data_offsets ${preview(offsets)}; it must be [begin, end] with non-negative integers`, { tensor: name, field: 'data_offsets' });
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin || end > dataLen) {
    throw fail(`tensor '${name}' has data_offsets [${begin}, ${end}] outside the ${dataLen} data bytes of the file`, { tensor: name, field: 'data_offsets', begin, end, dataBytes: dataLen });
  }
  const dims = shape as number[];
  let size = ITEM_SIZE[dt]!;
  for (const d of dims) size *= d;
  if (size !== end - begin) {
    throw fail(`tensor '${name}' of shape [${dims.join(', ')}] and dtype ${dt} needs ${size} bytes, but its data_offsets span ${end - begin}`, { tensor: name, field: 'data_offsets', expected: size, actual: end - begin });
  }
  return { name, dtype: dt, shape: dims, begin, end };
}

/** Little-endian F32/F16/BF16/F64 bytes → float32. */
function decode(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / ITEM_SIZE[dtype]!;
  const out = new Float32Array(n);
  if (dtype === 'F64') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
  } else if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'BF16') {
    const word = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < n; i++) (word.setUint32(0, view.getUint16(2 * i, true) << 16), (out[i] = word.getFloat32(0)));
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

/** IEEE 754 half (binary16) bits → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
