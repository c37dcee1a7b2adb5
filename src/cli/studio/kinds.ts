// The folders of --models the studio's other views use: transformers (components, and context when a
// WordLevel or BPE tokenizer.json is beside them) and training-data sets (data). Found by their files, two
// levels deep; every path is resolved inside the folder (a symlink out of it is as if missing).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseNpy } from '../../io/npy.js';
import type { TensorData } from '../../io/tensor-json.js';
import { notFound, type ModelStore } from './models.js';

/** A transformer folder: `config.json` and `model.safetensors` (or its shard index). */
export interface TransformerEntry {
  readonly id: string;
  /** It has a tokenizer.json (texts are encoded with it; context attribution takes WordLevel and BPE ones). */
  readonly tokenizer: boolean;
}

/** A training-data folder: `model.onnx` beside `train-x.npy`, `train-y.npy`, `test-x.npy`, `test-y.npy`. */
export interface DataEntry {
  readonly id: string;
}

/** What `GET /api/kinds` lists. */
export interface KindListing {
  readonly transformers: readonly TransformerEntry[];
  readonly data: readonly DataEntry[];
}

/** The arrays of a data folder, by name. */
export const DATA_ARRAYS = ['train-x', 'train-y', 'test-x', 'test-y'] as const;
const MAX_ENTRIES = 500;
/** Largest array file of a data folder read. */
export const MAX_ARRAY_BYTES = 256 * 2 ** 20;

const isTransformer = (names: ReadonlySet<string>) => names.has('config.json') && (names.has('model.safetensors') || names.has('model.safetensors.index.json'));
const isData = (names: ReadonlySet<string>) => names.has('model.onnx') && DATA_ARRAYS.every((a) => names.has(`${a}.npy`));

/** The transformer and data folders of the store's folder (two levels deep), sorted by id. */
export async function listKinds(store: ModelStore): Promise<KindListing> {
  const root = await fs.realpath(store.root);
  const transformers: TransformerEntry[] = [];
  const data: DataEntry[] = [];
  const visit = async (rel: string, depth: number): Promise<void> => {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
    const names = new Set(entries.map((e) => e.name));
    const id = rel.split(path.sep).join('/');
    if (rel !== '' && isTransformer(names)) transformers.push({ id, tokenizer: names.has('tokenizer.json') });
    if (rel !== '' && isData(names)) data.push({ id });
    for (const e of entries) {
      if (transformers.length + data.length >= MAX_ENTRIES) return;
      if (e.isDirectory() && depth < 2 && !e.name.startsWith('.')) await visit(path.join(rel, e.name), depth + 1);
    }
  };
  await visit('', 0);
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  return { transformers: transformers.sort(byId), data: data.sort(byId) };
}

/**
 * The real path of a listed folder of `kind`, with the files it is read through checked too.
 * @throws {StudioRequestError} 404 when `id` is no such folder, or one of its files leads out of --models.
 */
export async function kindFolder(store: ModelStore, kind: 'transformer' | 'data', id: unknown): Promise<string> {
  const what = kind === 'transformer' ? 'transformer folder' : 'data folder';
  if (typeof id !== 'string' || id.length > 1000) throw notFound(`Field 'model' must name a ${what} of the studio's models folder`);
  const listing = await listKinds(store);
  const listed = kind === 'transformer' ? listing.transformers : listing.data;
  if (!listed.some((e) => e.id === id)) throw notFound(`No ${what} '${id}' in the studio's models folder`, { model: id });
  const dir = await store.resolve(id, what);
  const names = await fs.readdir(dir);
  const files = kind === 'transformer' ? ['config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json'] : ['model.onnx', ...DATA_ARRAYS.map((a) => `${a}.npy`)];
  // a file read by the loaders must not link out of the folder either
  for (const f of files) if (names.includes(f)) await store.resolve(`${id}/${f}`, what);
  if (kind === 'transformer' && names.includes('model.safetensors.index.json')) {
    for (const f of names) if (/\.safetensors$/.test(f)) await store.resolve(`${id}/${f}`, what);
  }
  return dir;
}

/** A file of a data folder (already checked by `kindFolder`), read with a size cap. */
export async function readDataFile(dir: string, name: string, maxBytes: number): Promise<Uint8Array> {
  const file = path.join(dir, name);
  const st = await fs.stat(file);
  if (!st.isFile() || st.size > maxBytes) throw notFound(`'${name}' of the data folder is not a file of at most ${maxBytes} bytes`, { file: name, max: maxBytes });
  return new Uint8Array(await fs.readFile(file));
}

/** The four arrays of a data folder. */
export async function readDataArrays(dir: string): Promise<Record<(typeof DATA_ARRAYS)[number], TensorData>> {
  const read = async (a: (typeof DATA_ARRAYS)[number]) => parseNpy(await readDataFile(dir, `${a}.npy`, MAX_ARRAY_BYTES), `${a}.npy`);
  const [trainX, trainY, testX, testY] = await Promise.all(DATA_ARRAYS.map(read));
  return { 'train-x': trainX!, 'train-y': trainY!, 'test-x': testX!, 'test-y': testY! };
}
