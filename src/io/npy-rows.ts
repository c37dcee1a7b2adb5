// An .npy file read a range of rows at a time (file reads at offsets; the file is never read whole).
import { promises as fs } from 'node:fs';
import { FileFormatError, InvalidArgumentError } from '../core/errors.js';
import { decodeNpy, NPY_HEADER_BYTES, parseNpyHeader, type NpyHeader } from './npy.js';
import { MAX_ELEMENTS } from './tensor-json.js';

/**
 * Rows of a NumPy `.npy` array `[n, …]`, read on demand: {@link NpyRowReader.open} parses the header
 * once and checks that the file holds exactly the bytes its shape and dtype need; `readRows` reads
 * rows [start, end) with one positioned read and returns them as float64 (values converted as
 * {@link parseNpy} converts them: float64 narrowed to float32, int64 to int32). Close it when done.
 *
 * Memory: the rows asked for (their bytes and their float64 copy); the header once.
 */
export class NpyRowReader {
  /** Bytes read by the largest single `readRows` call so far (file bytes plus the float64 copy). */
  peakBytes = 0;

  private constructor(
    private readonly file: fs.FileHandle,
    private readonly header: NpyHeader,
    readonly shape: readonly number[],
    private readonly source: string,
  ) {}

  /** Elements per row (the product of the shape after the first axis). */
  get rowSize(): number {
    return this.shape.slice(1).reduce((a, b) => a * b, 1);
  }


  /**
   * Opens `path` and validates its header against the file's size.
   * @throws {FileFormatError} when the file cannot be read, on a malformed header, an unsupported dtype, a 0-d array, a row of more than
   * {@link MAX_ELEMENTS} elements, or a data size other than the shape's (truncated, or a header that lies).
   */
  static async open(path: string, source = `.npy file '${path}'`): Promise<NpyRowReader> {
    let file: fs.FileHandle;
    try {
      file = await fs.open(path, 'r');
    } catch (e) {
      throw new FileFormatError(`Cannot read ${source} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file: path }, e);
    }
    try {
      const stat = await file.stat();
      if (!stat.isFile()) throw new FileFormatError(`${source} is not a regular file`, { file: path });
      const fileSize = stat.size;
      const head = new Uint8Array(Math.min(fileSize, NPY_HEADER_BYTES));
      await file.read(head, 0, head.length, 0);
      const header = parseNpyHeader(head, source);
      const { shape } = header;
      if (shape.length < 1) throw new FileFormatError(`${source} holds a 0-d array; rows need a leading examples axis`, { source });
      const row = shape.slice(1).reduce((a, b) => a * b, 1);
      if (row > MAX_ELEMENTS) throw new FileFormatError(`${source}: a row of ${row} elements exceeds the limit of ${MAX_ELEMENTS}`, { source, size: row });
      const need = header.size * header.itemSize;
      const found = fileSize - header.dataStart;
      if (found !== need) {
        throw new FileFormatError(`${source} ${found < need ? 'is truncated' : 'has trailing bytes'}: its header's shape [${shape.join(', ')}] and dtype '${header.type}' need ${need} data bytes, found ${found}`, { source, need, found });
      }
      return new NpyRowReader(file, header, shape, source);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  /**
   * Rows [start, end) as float64, `[(end − start) × rowSize]`.
   * @throws {InvalidArgumentError} for a range outside [0, n].
   * @throws {FileFormatError} when the file shrank since it was opened.
   */
  async readRows(start: number, end: number): Promise<Float64Array> {
    const n = this.shape[0]!;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
      throw new InvalidArgumentError(`Arguments 'start' and 'end' passed to 'NpyRowReader.readRows' must satisfy 0 ≤ start ≤ end ≤ ${n}, got ${start} and ${end}`, { arg: 'start', fn: 'NpyRowReader.readRows', start, end, n });
    }
    const count = (end - start) * this.rowSize;
    const bytes = new Uint8Array(count * this.header.itemSize);
    const { bytesRead } = await this.file.read(bytes, 0, bytes.length, this.header.dataStart + start * this.rowSize * this.header.itemSize);
    if (bytesRead !== bytes.length) throw new FileFormatError(`${this.source} is truncated: rows ${start}–${end} need ${bytes.length} bytes, read ${bytesRead}`, { source: this.source });
    const out = new Float64Array(count);
    decodeNpy(new DataView(bytes.buffer), this.header, out, start * this.rowSize, this.source);
    this.peakBytes = Math.max(this.peakBytes, bytes.byteLength + out.byteLength);
    return out;
  }

  /** Releases the file handle. */
  async close(): Promise<void> {
    await this.file.close();
  }
}
