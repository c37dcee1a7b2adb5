import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '../core/errors.js';
import { parseNpy } from '../io/npy.js';
import { parseTensorJson, tensorFromJsonValue, type TensorData } from '../io/tensor-json.js';
import { isGlob, listFiles } from './glob.js';

/** Largest input file read (1 GiB), and longest line of a `.jsonl` file (64 MiB). */
export const MAX_DATASET_FILE_BYTES = 2 ** 30;
export const MAX_JSONL_LINE_BYTES = 2 ** 26;
/** Most inputs one job holds. */
export const MAX_DATASET_ITEMS = 10_000_000;

const TENSOR_EXT = new Set(['.npy', '.json']);
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);

/**
 * One input of a dataset. `id` is stable across runs: the file's path relative to the dataset's base
 * folder, with `#row` for a row of a batch file or a `.jsonl` record (or the record's own `id`).
 */
export interface DatasetItem {
  readonly id: string;
  /** The file holding it. */
  readonly file: string;
  /** Row of a batch file or record of a `.jsonl` file; -1 when the file is the input. */
  readonly row: number;
  readonly kind: 'tensor' | 'image' | 'jsonl';
  /** A target given by the input itself (`"target"` of a `.jsonl` record). */
  readonly target?: number;
}

/** The inputs of a job, in a fixed order. */
export interface Dataset {
  readonly spec: string;
  readonly items: readonly DatasetItem[];
}

/** Reads an image file as one model input `[1, …]` (the CLI supplies its image pipeline). */
export type ImageReader = (file: string) => Promise<TensorData>;

/**
 * Lists the inputs `spec` names: a folder (every `.npy`, `.json`, `.jsonl`, `.png`, `.jpg` in it,
 * recursively), a glob (`data/**\/*.png`), or one `.npy`, `.json` or `.jsonl` file. A tensor file of
 * the model's rank is a batch (one input per row); one of rank − 1 is a single input.
 *
 * Cost: tensor and `.jsonl` files are read once here (their rows are counted); images are not opened.
 * @throws {InvalidArgumentError} `invalid_argument` when nothing matches, or ids repeat.
 * @throws {FileFormatError} `invalid_file` for an unreadable or malformed file.
 */
export async function listDataset(spec: string, modelRank: number): Promise<Dataset> {
  const stat = await fs.stat(spec).catch(() => undefined);
  const { base, files } = stat?.isFile() ? { base: path.dirname(spec), files: [path.basename(spec)] } : stat?.isDirectory() || isGlob(spec) ? await listFiles(spec) : missing(spec);
  const items: DatasetItem[] = [];
  for (const rel of files) {
    const file = path.join(base, rel);
    const ext = path.extname(rel).toLowerCase();
    if (IMAGE_EXT.has(ext)) items.push({ id: rel, file, row: -1, kind: 'image' });
    else if (TENSOR_EXT.has(ext)) {
      const t = await readTensor(file);
      if (modelRank > 1 && t.shape.length === modelRank - 1) items.push({ id: rel, file, row: -1, kind: 'tensor' });
      else for (let r = 0; r < (t.shape[0] ?? 0); r++) items.push({ id: `${rel}#${r}`, file, row: r, kind: 'tensor' });
    } else if (ext === '.jsonl') {
      (await readJsonl(file)).forEach((rec, r) => items.push({ id: rec.id ?? `${rel}#${r}`, file, row: r, kind: 'jsonl', ...(rec.target !== undefined ? { target: rec.target } : {}) }));
    } else if (stat?.isFile()) {
      throw new InvalidArgumentError(`Option '--inputs' '${spec}' must be a folder, a glob, or a .npy, .json or .jsonl file`, { arg: 'inputs', value: spec, reason: 'extension' });
    }
    if (items.length > MAX_DATASET_ITEMS) throw new InvalidArgumentError(`Option '--inputs' '${spec}' holds more than ${MAX_DATASET_ITEMS} inputs; split it into several jobs`, { arg: 'inputs', value: spec, reason: 'too_many_inputs' });
  }
  if (items.length === 0) throw new InvalidArgumentError(`Option '--inputs' '${spec}' names no inputs (.npy, .json, .jsonl, .png, .jpg)`, { arg: 'inputs', value: spec, reason: 'empty' });
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.id)) throw new InvalidArgumentError(`Input id '${it.id}' appears twice in '${spec}'; ids of .jsonl records must be unique`, { arg: 'inputs', value: spec, reason: 'duplicate_id', id: it.id });
    seen.add(it.id);
  }
  return { spec, items };
}

const missing = (spec: string): never => {
  throw new InvalidArgumentError(`Option '--inputs' '${spec}' is not a file, a folder or a glob that exists`, { arg: 'inputs', value: spec, reason: 'missing' });
};

/**
 * Reads the inputs of a dataset, one at a time, as `[1, …]` tensors. Holds the last batch or
 * `.jsonl` file read, so the rows of one file cost one read.
 */
export class DatasetReader {
  private last: { file: string; tensor?: TensorData; records?: readonly JsonlRecord[] } | undefined;

  constructor(private readonly readImage?: ImageReader) {}

  /** The input `item` as one row `[1, …]`. */
  async read(item: DatasetItem): Promise<TensorData> {
    if (item.kind === 'image') {
      if (!this.readImage) throw new InvalidArgumentError(`Input '${item.id}' is an image, and this job has no image reader`, { arg: 'inputs', id: item.id });
      return this.readImage(item.file);
    }
    if (this.last?.file !== item.file) this.last = item.kind === 'jsonl' ? { file: item.file, records: await readJsonl(item.file) } : { file: item.file, tensor: await readTensor(item.file) };
    if (item.kind === 'jsonl') {
      const rec = this.last.records?.[item.row];
      if (!rec) throw new FileFormatError(`Input '${item.id}': record ${item.row} is missing from '${item.file}' (the file changed since the job was listed)`, { id: item.id, file: item.file });
      return { ...rec.input, shape: [1, ...rec.input.shape] };
    }
    const t = this.last.tensor!;
    if (item.row < 0) return { ...t, shape: [1, ...t.shape] };
    if (item.row >= (t.shape[0] ?? 0)) throw new FileFormatError(`Input '${item.id}': row ${item.row} is beyond the ${t.shape[0] ?? 0} rows of '${item.file}' (the file changed since the job was listed)`, { id: item.id, file: item.file });
    const per = t.data.length / t.shape[0]!;
    return { dtype: t.dtype, shape: [1, ...t.shape.slice(1)], data: t.data.slice(item.row * per, (item.row + 1) * per) };
  }
}

async function readBytes(file: string): Promise<Uint8Array> {
  const stat = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new FileFormatError(`Cannot read input '${file}' (${e.code ?? 'error'})`, { file }, e);
  });
  if (stat.size > MAX_DATASET_FILE_BYTES) throw new FileFormatError(`Input '${file}' is ${stat.size} bytes; at most ${MAX_DATASET_FILE_BYTES} are read`, { file, size: stat.size, max: MAX_DATASET_FILE_BYTES });
  return new Uint8Array(await fs.readFile(file));
}

async function readTensor(file: string): Promise<TensorData> {
  const bytes = await readBytes(file);
  const t = file.toLowerCase().endsWith('.npy') ? parseNpy(bytes, `input '${file}'`) : parseTensorJson(new TextDecoder().decode(bytes), `input '${file}'`);
  if (t.shape.length === 0) throw new FileFormatError(`Input '${file}' is a scalar; give rows of the model's input`, { file });
  return t;
}

interface JsonlRecord {
  readonly id?: string;
  readonly input: TensorData;
  readonly target?: number;
}

/**
 * A `.jsonl` file: one input per non-empty line, either the input itself (nested arrays or
 * `{"shape", "data"}`) or `{"id": "…", "input": …, "target": N}` (`id` and `target` optional).
 */
async function readJsonl(file: string): Promise<JsonlRecord[]> {
  const text = new TextDecoder().decode(await readBytes(file));
  const out: JsonlRecord[] = [];
  let start = 0;
  for (let lineNo = 1; start <= text.length; lineNo++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line.length === 0) continue;
    const where = `'${file}' line ${lineNo}`;
    if (line.length > MAX_JSONL_LINE_BYTES) throw new FileFormatError(`${where} is longer than ${MAX_JSONL_LINE_BYTES} characters`, { file, line: lineNo });
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new FileFormatError(`${where} is not valid JSON: ${(e as Error).message}`, { file, line: lineNo }, e);
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'input' in value) {
      const rec = value as { id?: unknown; input: unknown; target?: unknown };
      if (rec.id !== undefined && typeof rec.id !== 'string' && !Number.isInteger(rec.id)) throw new FileFormatError(`${where}: "id" must be a string or an integer`, { file, line: lineNo });
      if (rec.target !== undefined && !(Number.isInteger(rec.target) && (rec.target as number) >= 0)) throw new FileFormatError(`${where}: "target" must be a non-negative integer`, { file, line: lineNo });
      out.push({ input: tensorFromJsonValue(rec.input, where), ...(rec.id !== undefined ? { id: String(rec.id) } : {}), ...(rec.target !== undefined ? { target: rec.target as number } : {}) });
    } else out.push({ input: tensorFromJsonValue(value, where) });
  }
  return out;
}
