import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { encodeNpy } from '../io/npy.js';
import type { Json } from './settings.js';
import { metricColumn, type ResultStore } from './store.js';

/** One entry of an export's `index.json`. */
export interface ExportEntry {
  readonly id: string;
  /** The `.npy` file (relative to the export folder). */
  readonly file: string;
  readonly method: string;
  readonly target: number | null;
  readonly score: number | null;
  readonly shape: readonly number[];
  readonly metrics: Readonly<Record<string, number | null>>;
}

/** An input id as a file name: characters outside `[A-Za-z0-9._-]` become `_` (`a/b.npy#3` → `a_b.npy_3`). */
export const safeName = (id: string): string => id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 200);

/**
 * Writes the attributions of a store's successful rows to `dir` (a new or empty folder): one `.npy`
 * per input named by its id (`<id>.npy`; `<id>@<target>.npy` when an input has several targets; a
 * numeric suffix when two ids map to the same name), plus `index.json` listing every file with its
 * id, target, score and metrics.
 * @throws {InvalidArgumentError} `invalid_argument` when `dir` exists and is not an empty folder.
 */
export async function exportStore(store: ResultStore, dir: string): Promise<ExportEntry[]> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (st && (!st.isDirectory() || (await fs.readdir(dir)).length > 0)) throw new InvalidArgumentError(`Option '--export' '${dir}' must be a new or empty folder`, { arg: 'export', value: dir });
  await fs.mkdir(dir, { recursive: true });
  const cols = store.settings.metrics.map((m) => [m, metricColumn(m)] as const);
  const { rows } = await store.query(
    `SELECT input_id, method, target, score, tensor, count(*) OVER (PARTITION BY input_id) AS per_input${cols.map(([, c]) => `, "${c}"`).join('')} FROM results WHERE status = 'ok' AND tensor IS NOT NULL ORDER BY seq, target`,
  );
  const used = new Set<string>(['index.json']);
  const entries: ExportEntry[] = [];
  for (const r of rows) {
    const id = String(r['input_id']);
    const target = r['target'] === null ? null : Number(r['target']);
    const stem = safeName(Number(r['per_input']) > 1 ? `${id}@${target ?? 'none'}` : id);
    let file = `${stem}.npy`;
    for (let k = 2; used.has(file.toLowerCase()); k++) file = `${stem}~${k}.npy`;
    used.add(file.toLowerCase());
    const t = await store.tensor(String(r['tensor']));
    await fs.writeFile(path.join(dir, file), encodeNpy(t));
    entries.push({
      id,
      file,
      method: String(r['method']),
      target,
      score: r['score'] === null ? null : Number(r['score']),
      shape: t.shape,
      metrics: Object.fromEntries(cols.map(([m, c]) => [m, r[c] === null || r[c] === undefined ? null : Number(r[c] as Json)])),
    });
  }
  await fs.writeFile(path.join(dir, 'index.json'), `${JSON.stringify({ method: store.settings.method, model: store.settings.model, inputs: store.settings.inputs, entries }, null, 2)}\n`);
  return entries;
}
