import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { exportStore } from '../../jobs/export.js';
import { renderStoreReport, storeReport } from '../../jobs/report.js';
import type { Json } from '../../jobs/settings.js';
import { ResultStore } from '../../jobs/store.js';
import { parseFlags, type FlagSpec } from '../args.js';

export const RESULTS_FLAGS: readonly FlagSpec[] = [
  { name: 'query', type: 'string', help: "SQL over the table 'results' (one row per input, method and target), e.g. \"SELECT input_id, deletion FROM results ORDER BY deletion DESC LIMIT 10\"" },
  { name: 'format', type: 'string', help: 'output of the query (or of the report): table, json, csv or parquet (binary, to stdout: redirect it)', default: 'table', values: ['table', 'json', 'csv', 'parquet'] },
  { name: 'export', type: 'string', help: 'a new folder: one .npy attribution per input, named by its id, and index.json' },
  { name: 'worst', type: 'int', help: 'inputs listed per metric in the report', default: 5, min: 0, max: 1000 },
];

/** The columns shown when no --query is given with --format csv/parquet/table rows. */
const ALL_ROWS = 'SELECT * EXCLUDE (tensor) FROM results ORDER BY seq, item';

/**
 * `attrib results STORE`: the store's report (metric distributions, worst inputs), a query's rows
 * as a table, JSON, CSV or Parquet, or an export of the attributions as `.npy` files.
 */
export async function resultsCommand(raw: Map<string, string | true>, dir: string | undefined): Promise<{ stdout: string | Uint8Array; files: string[] }> {
  const flags = parseFlags(raw, RESULTS_FLAGS, 'results');
  if (dir === undefined) throw new InvalidArgumentError(`'attrib results' needs the store: attrib results STORE [--query SQL]`, { arg: 'store' });
  const format = String(flags.get('format') ?? 'table');
  const query = flags.get('query');
  const store = await ResultStore.read(dir);
  try {
    const target = flags.get('export');
    if (typeof target === 'string') {
      const entries = await exportStore(store, target);
      return { stdout: `exported ${entries.length} attributions to ${target}`, files: [path.join(target, 'index.json')] };
    }
    if (typeof query !== 'string' && (format === 'table' || format === 'json')) {
      const report = await storeReport(store, Number(flags.get('worst') ?? 5));
      return { stdout: format === 'json' ? JSON.stringify(report, null, 2) : renderStoreReport(report), files: [] };
    }
    const sql = typeof query === 'string' ? query.trim().replace(/;\s*$/, '') : ALL_ROWS;
    if (format === 'csv' || format === 'parquet') {
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'attrib-results-'));
      try {
        const file = path.join(tmp, `rows.${format}`);
        await store.copy(sql, file, format);
        const bytes = new Uint8Array(await fs.readFile(file));
        return { stdout: format === 'csv' ? new TextDecoder().decode(bytes).replace(/\n$/, '') : bytes, files: [] };
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    }
    const { columns, rows } = await store.query(sql);
    return { stdout: format === 'json' ? JSON.stringify(rows) : table(columns, rows), files: [] };
  } finally {
    store.close();
  }
}

/** Rows as an aligned text table (lists as JSON, long cells cut at 60 characters). */
function table(columns: readonly string[], rows: readonly Record<string, Json>[]): string {
  const cell = (v: Json | undefined): string => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(6))) : String(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  };
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n');
}
