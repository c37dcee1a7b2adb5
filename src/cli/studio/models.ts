// The models the studio offers: those inside --models, found by their files, loaded on demand and
// kept while in use. No path outside the folder is ever read (real paths are checked, so a symlink
// out of it is refused as if it were missing).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AttributionError } from '../../core/errors.js';
import { loadModel, type Engine } from '../../io/load-model.js';
import { isHooked, type ModelAdapter } from '../../models/model.js';
import type { Vocabulary } from '../../io/vocab.js';
import { readVocabulary } from '../inputs.js';

/**
 * A request the studio refuses with an HTTP status other than 400: 404 for a file or model outside
 * --models or not there (the two look alike), 413 for an upload over the cap, 429 when too many jobs wait.
 */
export class StudioRequestError extends AttributionError {
  override name = 'StudioRequestError';
  constructor(
    readonly status: 404 | 413 | 429,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super('invalid_argument', message, { details: { ...details, status } });
  }
}

/** A 404: missing, or outside the models folder. */
export const notFound = (message: string, details: Record<string, unknown> = {}): StudioRequestError => new StudioRequestError(404, message, details);

/** A model found in the folder: its id (path relative to the folder, '/'-separated) and its sample inputs. */
export interface ModelEntry {
  readonly id: string;
  readonly format: 'tfjs' | 'onnx';
  readonly samples: readonly string[];
}

/** Sample inputs beside a model: `sample-*` / `sample_*` and `inputs.*` images and tensor files. */
const SAMPLE = /^(?:sample[-_][\w.-]*|inputs)\.(?:png|jpe?g|json|npy)$/i;
const MAX_MODELS = 500;
/** The files of a model folder the page may fetch (the in-browser engine): the topology, weight shards, an ONNX graph. */
const MODEL_FILE = /^(?:model\.json|model\.onnx|[\w.-]{1,200}\.bin)$/;
const MAX_SAMPLES = 50;
/** Models kept loaded at once; the least recently used one is released beyond this. */
const KEEP_LOADED = 4;

interface Loaded {
  readonly key: string;
  readonly model: Promise<ModelAdapter>;
  users: number;
  evicted: boolean;
}

/**
 * The models of one folder. `list()` scans it (two levels: `DIR/x.onnx`, `DIR/m/model.json`);
 * `acquire()` loads a model (kept for reuse, at most four at once) and must be paired with `release()`.
 */
export class ModelStore {
  private readonly loaded = new Map<string, Loaded>();
  private rootReal: Promise<string>;

  constructor(readonly root: string) {
    this.rootReal = fs.realpath(root);
  }

  /** The models in the folder, sorted by id. */
  async list(): Promise<ModelEntry[]> {
    const root = await this.rootReal;
    const out: ModelEntry[] = [];
    const visit = async (rel: string, depth: number): Promise<void> => {
      const dir = path.join(root, rel);
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      const names = new Set(entries.map((e) => e.name));
      if (rel !== '' && (names.has('model.json') || names.has('model.onnx'))) {
        out.push({ id: rel.split(path.sep).join('/'), format: names.has('model.json') ? 'tfjs' : 'onnx', samples: samplesOf(entries.map((e) => e.name)) });
        return;
      }
      for (const e of entries) {
        if (out.length >= MAX_MODELS) return;
        const child = path.join(rel, e.name);
        if (e.isFile() && e.name.toLowerCase().endsWith('.onnx')) out.push({ id: child.split(path.sep).join('/'), format: 'onnx', samples: [] });
        else if (e.isDirectory() && depth < 2 && !e.name.startsWith('.')) await visit(child, depth + 1);
      }
    };
    await visit('', 0);
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * The real path of `rel` inside the folder.
   * @throws {StudioRequestError} 404 when it is missing, names a parent (`..`) or absolute path, or its real path leaves the folder.
   */
  async resolve(rel: string, what = 'file'): Promise<string> {
    const root = await this.rootReal;
    const missing = () => notFound(`No ${what} '${rel}' in the studio's models folder`, { path: rel });
    if (rel === '' || rel.includes('\0') || path.isAbsolute(rel) || rel.split(/[\\/]/).some((p) => p === '..')) throw missing();
    const real = await fs.realpath(path.join(root, rel)).catch(() => {
      throw missing();
    });
    if (real !== root && !real.startsWith(root + path.sep)) throw missing();
    return real;
  }

  /** The sample inputs of model `id`. */
  async samples(id: string): Promise<string[]> {
    const file = await this.modelFile(id);
    const st = await fs.stat(file);
    if (!st.isDirectory()) return [];
    return samplesOf(await fs.readdir(file));
  }

  /** The vocabulary beside a token-id model (`vocab.txt` or `vocab.json`), or undefined when it has none. */
  async vocabulary(id: string): Promise<Vocabulary | undefined> {
    const dir = await this.modelFile(id);
    if (!(await fs.stat(dir)).isDirectory()) return undefined;
    const names = await fs.readdir(dir);
    const name = ['vocab.txt', 'vocab.json'].find((n) => names.includes(n));
    return name === undefined ? undefined : readVocabulary(await this.resolve(`${id}/${name}`, 'vocabulary'));
  }

  /** A sample's bytes (at most `maxBytes`); the name must be one of the model's samples. */
  async sample(id: string, name: string, maxBytes: number): Promise<Uint8Array> {
    if (!SAMPLE.test(name) || !(await this.samples(id)).includes(name)) throw notFound(`Model '${id}' has no sample '${name}'`, { model: id, sample: name });
    const file = await this.resolve(`${id}/${name}`, 'sample');
    const st = await fs.stat(file);
    if (!st.isFile() || st.size > maxBytes) throw notFound(`Sample '${name}' of model '${id}' is not a file of at most ${maxBytes} bytes`, { model: id, sample: name });
    return new Uint8Array(await fs.readFile(file));
  }

  /** The path of a listed model (any other file in the folder is no model id). */
  /**
   * A file of model `id` for the in-browser engine: `model.json`, a weights shard (`*.bin`) or
   * `model.onnx` in the model's folder, or the `.onnx` file that is the model (by its own name).
   * @throws {StudioRequestError} 404 for any other name, a file outside the folder, or one over `maxBytes`.
   */
  async modelFileBytes(id: string, name: string, maxBytes: number): Promise<Uint8Array> {
    const file = await this.modelFile(id);
    const dir = (await fs.stat(file)).isDirectory();
    const ok = dir ? MODEL_FILE.test(name) : name === path.basename(file);
    if (!ok) throw notFound(`Model '${id}' has no file '${name}' the page may load (model.json, *.bin, model.onnx)`, { model: id, file: name });
    const real = dir ? await this.resolve(`${id}/${name}`, 'model file') : file;
    const st = await fs.stat(real);
    if (!st.isFile() || st.size > maxBytes) throw notFound(`File '${name}' of model '${id}' is not a file of at most ${maxBytes} bytes`, { model: id, file: name });
    return new Uint8Array(await fs.readFile(real));
  }

  private async modelFile(id: string): Promise<string> {
    const file = await this.resolve(id, 'model');
    if (!(await this.list()).some((m) => m.id === id)) throw notFound(`No model '${id}' in the studio's models folder`, { model: id });
    // a model folder's model.json / model.onnx (what loadModel reads) must not link out of the folder either
    if ((await fs.stat(file)).isDirectory()) {
      const names = await fs.readdir(file);
      for (const n of ['model.json', 'model.onnx']) if (names.includes(n)) await this.resolve(`${id}/${n}`, 'model');
    }
    return file;
  }

  /** Loads model `id` on `engine` (or reuses it); pair with `release(model)`. */
  async acquire(id: string, engine: Engine): Promise<ModelAdapter> {
    const file = await this.modelFile(id);
    const key = `${engine}:${file}`;
    let entry = this.loaded.get(key);
    if (entry) this.loaded.delete(key); // re-inserted below: most recently used last
    else entry = { key, model: loadModel(file, { engine, name: id }), users: 0, evicted: false };
    this.loaded.set(key, entry);
    entry.users++;
    try {
      const model = await entry.model;
      this.evict();
      return model;
    } catch (e) {
      entry.users--;
      this.loaded.delete(key);
      throw e;
    }
  }

  /** Releases a model from `acquire`; an evicted model is disposed when its last user releases it. */
  async release(model: ModelAdapter): Promise<void> {
    for (const entry of [...this.loaded.values(), ...this.evicted]) {
      if ((await entry.model.catch(() => undefined)) !== model) continue;
      entry.users--;
      if (entry.evicted && entry.users <= 0) {
        model.dispose();
        this.evicted.delete(entry);
      }
      return;
    }
  }

  private readonly evicted = new Set<Loaded>();

  private evict(): void {
    while (this.loaded.size > KEEP_LOADED) {
      const oldest = this.loaded.values().next().value as Loaded;
      this.loaded.delete(oldest.key);
      oldest.evicted = true;
      if (oldest.users <= 0) void oldest.model.then((m) => m.dispose(), () => undefined);
      else this.evicted.add(oldest);
    }
  }

  /** Disposes every loaded model. */
  async dispose(): Promise<void> {
    const all = [...this.loaded.values(), ...this.evicted];
    this.loaded.clear();
    this.evicted.clear();
    for (const e of all) (await e.model.catch(() => undefined))?.dispose();
  }
}

function samplesOf(names: readonly string[]): string[] {
  return names
    .filter((n) => SAMPLE.test(n))
    .sort()
    .slice(0, MAX_SAMPLES);
}

/** What the app shows about a loaded model. */
export function modelInfo(id: string, model: ModelAdapter, samples: readonly string[], text = false): Record<string, unknown> {
  return {
    id,
    name: model.name,
    inputShape: model.inputShape,
    ...(model.outputShape ? { outputShape: model.outputShape } : {}),
    ...(model.engine ? { engine: model.engine } : {}),
    capabilities: model.capabilities,
    ...(isHooked(model) ? { layers: model.hookNames.slice(0, 200) } : {}),
    samples,
    // a token-id model with its vocabulary beside it takes text
    ...(text ? { text: true } : {}),
  };
}
