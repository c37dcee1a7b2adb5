import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { AttributionError, FileFormatError, InvalidArgumentError } from '../core/errors.js';
import { importPeer, type PeerImporter } from '../models/peers.js';
import { encodeNpy, parseNpy } from '../io/npy.js';
import type { TensorData } from '../io/tensor-json.js';
import { syncDir, writeFileDurably } from './durable.js';
import { canonicalJson, JobSettingsError, settingsDifferences, type JobSettings, type Json } from './settings.js';

/** The database file inside a store folder, and the folder of attribution tensors beside it. */
export const STORE_DB = 'results.duckdb';
export const TENSOR_DIR = 'tensors';

/** One finished (input, method, target): summary columns and the attribution tensor. */
export interface ResultRow {
  /** Work-item key: `inputId@target` (the target as asked: an index, or `auto`). */
  readonly item: string;
  readonly inputId: string;
  /** Position of the input in the dataset. */
  readonly seq: number;
  readonly method: string;
  /** The output index attributed (resolved when asked for `auto`). */
  readonly target: number | null;
  /** The model's output at the target. */
  readonly score: number | null;
  readonly status: 'ok' | 'error';
  /** For `status = 'error'`: the typed error's code and message. */
  readonly error?: string;
  readonly metrics: Readonly<Record<string, number>>;
  /** Flat indices of the largest |attribution| values, largest first, and their values. */
  readonly topFeatures: readonly number[];
  readonly topValues: readonly number[];
  readonly elapsedMs: number;
  /** The attribution, `[1, …]` (absent for errors). */
  readonly attribution?: TensorData;
}

/** Column name of a metric (`sensitivity-max` → `sensitivity_max`). */
export const metricColumn = (metric: string): string => metric.replace(/[^a-z0-9]/gi, '_').toLowerCase();

/** A store's file name for an item's tensor: the key made safe for file systems, plus a hash against collisions. */
export function tensorFileName(item: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < item.length; i++) h = Math.imul(h ^ item.charCodeAt(i), 0x01000193) >>> 0;
  return `${item.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 96)}-${h.toString(16).padStart(8, '0')}.npy`;
}

/**
 * The results of a dataset job: a folder holding an embedded DuckDB database (`results.duckdb`, one
 * row per (input, method, target), table `results`; the job's settings in table `meta`) and the
 * attribution tensors beside it (`tensors/*.npy`).
 *
 * Durability: a row's tensor is written and flushed first, then the row is committed (DuckDB's
 * write-ahead log is flushed on commit). A process killed between the two leaves a tensor without a
 * row, which the resumed job writes again; the primary key on `item` keeps every row unique.
 *
 * One process may hold a store open for writing; readers (`attrib results`) open it read-only.
 */
export class ResultStore {
  private constructor(
    readonly dir: string,
    readonly settings: JobSettings,
    /** A random id given to the store when it was created (queued items of this store carry it). */
    readonly id: string,
    private readonly db: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  /**
   * Opens the store at `dir` for a job: creates it with `settings` when missing, or checks that the
   * stored settings equal `settings`. With `settings` undefined the store must exist (`--resume`).
   * @throws {JobSettingsError} `invalid_argument` when the store holds another job.
   * @throws {InvalidArgumentError} `invalid_argument` when `dir` is not a store, or is in use.
   */
  static async open(dir: string, settings?: JobSettings, importer?: PeerImporter): Promise<ResultStore> {
    const file = path.join(dir, STORE_DB);
    const exists = await isStore(dir);
    if (!exists) {
      if (!settings) throw new InvalidArgumentError(`'${dir}' is not a results store (no ${STORE_DB}); start the job without --resume`, { arg: 'out', value: dir, reason: 'not_a_store' });
      const entries = await fs.readdir(dir).catch(() => [] as string[]);
      if (entries.length > 0) throw new InvalidArgumentError(`Option '--out' '${dir}' is a folder holding other files; give a new or empty folder for the store`, { arg: 'out', value: dir, reason: 'foreign_directory' });
      await fs.mkdir(path.join(dir, TENSOR_DIR), { recursive: true });
      await syncDir(path.dirname(path.resolve(dir)));
    }
    const { db, conn } = await connect(file, false, importer);
    try {
      await conn.run('BEGIN TRANSACTION');
      await conn.run('CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)');
      const stored = await readSettings(conn);
      if (stored && settings) {
        const diff = settingsDifferences(stored, settings);
        if (diff.length > 0) throw new JobSettingsError(dir, diff);
      }
      const s = stored ?? settings;
      if (!s) throw new InvalidArgumentError(`'${dir}' holds no job settings; start the job again with a new --out`, { arg: 'out', value: dir, reason: 'not_a_store' });
      if (!stored) {
        await conn.run(createResultsSql(s.metrics));
        await conn.run('INSERT INTO meta VALUES ($1, $2), ($3, $4)', ['settings', canonicalJson(s), 'id', randomUUID()]);
      }
      await conn.run('COMMIT');
      return new ResultStore(dir, s, await readId(conn), db, conn);
    } catch (e) {
      conn.closeSync();
      db.closeSync();
      throw e;
    }
  }

  /** Opens an existing store read-only (for queries, reports and exports while no job writes it). */
  static async read(dir: string, importer?: PeerImporter): Promise<ResultStore> {
    if (!(await isStore(dir))) throw new InvalidArgumentError(`'${dir}' is not a results store (no ${STORE_DB} inside)`, { arg: 'store', value: dir, reason: 'not_a_store' });
    const { db, conn } = await connect(path.join(dir, STORE_DB), true, importer);
    const s = await readSettings(conn);
    if (!s) {
      conn.closeSync();
      db.closeSync();
      throw new FileFormatError(`Store '${dir}' holds no job settings (it was never started)`, { store: dir });
    }
    return new ResultStore(dir, s, await readId(conn), db, conn);
  }

  /** Keys of the items already stored (finished, or failed with a typed error). */
  async doneItems(): Promise<Set<string>> {
    const r = await this.conn.runAndReadAll('SELECT item FROM results');
    return new Set(r.getRows().map((row) => String(row[0])));
  }

  /** Stores one result durably: the tensor file first, then the row (one committed statement). */
  async put(row: ResultRow): Promise<void> {
    let tensor: string | null = null;
    if (row.attribution) {
      tensor = `${TENSOR_DIR}/${tensorFileName(row.item)}`;
      await writeFileDurably(path.join(this.dir, tensor), encodeNpy(row.attribution));
    }
    // [column, value, SQL type of the cast from text] (lists are bound as JSON text)
    const cols: [string, string | number | null, string?][] = [
      ['item', row.item],
      ['input_id', row.inputId],
      ['seq', row.seq],
      ['method', row.method],
      ['target', row.target],
      ['score', row.score],
      ['status', row.status],
      ['error', row.error ?? null],
      ...this.settings.metrics.map((m): [string, number | null] => [metricColumn(m), row.metrics[m] !== undefined && Number.isFinite(row.metrics[m]) ? row.metrics[m]! : null]),
      ['top_features', JSON.stringify(row.topFeatures), 'INTEGER[]'],
      ['top_values', JSON.stringify(row.topValues.map((v) => (Number.isFinite(v) ? v : 0))), 'DOUBLE[]'],
      ['elapsed_ms', row.elapsedMs],
      ['tensor', tensor],
      ['shape', row.attribution ? JSON.stringify(row.attribution.shape) : null, 'INTEGER[]'],
    ];
    const marks = cols.map(([, , cast], i) => (cast ? `CAST($${i + 1} AS ${cast})` : `$${i + 1}`));
    await this.conn.run(`INSERT INTO results (${cols.map(([c]) => `"${c}"`).join(', ')}, finished_at) VALUES (${marks.join(', ')}, now())`, cols.map(([, v]) => v));
  }

  /** Runs a query; rows as JSON-safe objects (big integers as numbers or strings). */
  async query(sql: string): Promise<{ columns: string[]; rows: Record<string, Json>[] }> {
    try {
      const r = await this.conn.runAndReadAll(sql);
      const columns = r.columnNames();
      // 64-bit and larger integers (counts …) come as strings: numbers when they fit a double exactly
      const wide = columns.filter((_, i) => /INT$/.test(String(r.columnType(i))) && /^(BIG|HUGE|UBIG|UHUGE)/.test(String(r.columnType(i))));
      const rows = r.getRowObjectsJson() as Record<string, Json>[];
      for (const row of rows) {
        for (const c of wide) {
          const v = row[c];
          if (typeof v === 'string' && Number.isSafeInteger(Number(v))) row[c] = Number(v);
        }
      }
      return { columns, rows };
    } catch (e) {
      throw new InvalidArgumentError(`Query failed: ${String((e as Error)?.message ?? e).split('\n')[0]} (the table is 'results'; see attrib results --help)`, { arg: 'query', sql }, e);
    }
  }

  /** Writes the rows of `sql` to `file` as Parquet or CSV (DuckDB's COPY). */
  async copy(sql: string, file: string, format: 'parquet' | 'csv'): Promise<void> {
    const quoted = file.replace(/'/g, "''");
    try {
      await this.conn.run(`COPY (${sql}) TO '${quoted}' (FORMAT ${format === 'parquet' ? 'parquet' : "csv, HEADER true"})`);
    } catch (e) {
      throw new InvalidArgumentError(`Query failed: ${String((e as Error)?.message ?? e).split('\n')[0]}`, { arg: 'query', sql }, e);
    }
  }

  /** Reads a stored attribution tensor (a path from the `tensor` column). */
  async tensor(rel: string): Promise<TensorData> {
    if (rel.includes('..') || path.isAbsolute(rel)) throw new FileFormatError(`Store '${this.dir}': tensor path '${rel}' leaves the store`, { store: this.dir, tensor: rel });
    const file = path.join(this.dir, rel);
    const bytes = await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw new FileFormatError(`Store '${this.dir}': tensor '${rel}' cannot be read (${e.code ?? 'error'})`, { store: this.dir, tensor: rel }, e);
    });
    return parseNpy(new Uint8Array(bytes), `tensor '${file}'`);
  }

  close(): void {
    this.conn.closeSync();
    this.db.closeSync();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Whether `dir` holds a store's database. */
async function isStore(dir: string): Promise<boolean> {
  return (await fs.stat(path.join(dir, STORE_DB)).catch(() => undefined))?.isFile() === true;
}

function createResultsSql(metrics: readonly string[]): string {
  return `CREATE TABLE results (
    item VARCHAR PRIMARY KEY, input_id VARCHAR NOT NULL, seq INTEGER NOT NULL, method VARCHAR NOT NULL,
    target INTEGER, score DOUBLE, status VARCHAR NOT NULL, error VARCHAR,
    ${metrics.map((m) => `"${metricColumn(m)}" DOUBLE, `).join('')}top_features INTEGER[], top_values DOUBLE[],
    elapsed_ms DOUBLE NOT NULL, tensor VARCHAR, shape INTEGER[], finished_at TIMESTAMP NOT NULL)`;
}

async function readId(conn: DuckDBConnection): Promise<string> {
  const r = await conn.runAndReadAll("SELECT value FROM meta WHERE key = 'id'");
  return String(r.getRows()[0]?.[0] ?? '');
}

async function readSettings(conn: DuckDBConnection): Promise<JobSettings | undefined> {
  const r = await conn.runAndReadAll("SELECT value FROM meta WHERE key = 'settings'");
  const v = r.getRows()[0]?.[0];
  return typeof v === 'string' ? (JSON.parse(v) as JobSettings) : undefined;
}

async function connect(file: string, readOnly: boolean, importer?: PeerImporter): Promise<{ db: DuckDBInstance; conn: DuckDBConnection }> {
  const duck = (await importPeer('@duckdb/node-api', importer)) as typeof import('@duckdb/node-api');
  let db: DuckDBInstance;
  try {
    db = await duck.DuckDBInstance.create(file, readOnly ? { access_mode: 'READ_ONLY' } : {});
  } catch (e) {
    const msg = String((e as Error)?.message ?? e);
    if (/lock/i.test(msg)) throw new InvalidArgumentError(`Store '${path.dirname(file)}' is in use by another process (a running job); wait for it or stop it`, { arg: 'store', value: path.dirname(file), reason: 'locked' }, e);
    throw new AttributionError('invalid_file', `Store database '${file}' cannot be opened: ${msg.split('\n')[0]}`, { details: { file }, cause: e });
  }
  return { db, conn: await db.connect() };
}
