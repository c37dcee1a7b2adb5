import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { parseNpy } from '../io/npy.js';
import { exportStore, safeName } from './export.js';
import { renderStoreReport, storeReport } from './report.js';
import type { JobSettings } from './settings.js';
import { ResultStore, tensorFileName, type ResultRow } from './store.js';

const SETTINGS: JobSettings = {
  model: 'm',
  modelDigest: 'abc',
  inputs: 'data/',
  inputCount: 4,
  inputsDigest: 'def',
  method: 'saliency',
  metrics: ['deletion', 'insertion'],
  targets: ['auto'],
  options: { 'batch-size': 128, abs: true },
};

/** Input k: attribution [k, −2k, 0.5], deletion k, insertion 10 − k (input 3 failed). */
const row = (k: number): ResultRow =>
  k === 3
    ? { item: `in/${k}@auto`, inputId: `in/${k}`, seq: k, method: 'saliency', target: null, score: null, status: 'error', error: 'invalid_file: broken', metrics: {}, topFeatures: [], topValues: [], elapsedMs: 1 }
    : {
        item: `in/${k}@auto`,
        inputId: `in/${k}`,
        seq: k,
        method: 'saliency',
        target: k % 2,
        score: k / 2,
        status: 'ok',
        metrics: { deletion: k, insertion: 10 - k },
        topFeatures: [1, 0, 2],
        topValues: [-2 * k, k, 0.5],
        elapsedMs: 2 + k,
        attribution: { dtype: 'float32', shape: [1, 3], data: Float32Array.from([k, -2 * k, 0.5]) },
      };

let dir: string;
beforeAll(async () => {
  dir = tempDir('attrib-jobs-store-');
  const s = await ResultStore.open(path.join(dir, 'store'), SETTINGS);
  for (const k of [0, 1, 2, 3]) await s.put(row(k));
  s.close();
});
afterAll(removeTempDirs);

describe('ResultStore', () => {
  it('keeps the job settings and one row per item; a second put of an item is refused by the primary key', async () => {
    const s = await ResultStore.open(path.join(dir, 'store'), SETTINGS);
    try {
      expect(s.settings).toEqual(SETTINGS);
      expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect((await ResultStore.open(path.join(dir, 'other'), SETTINGS).then((o) => (o.close(), o.id)))).not.toBe(s.id);
      expect([...(await s.doneItems())].sort()).toEqual(['in/0@auto', 'in/1@auto', 'in/2@auto', 'in/3@auto']);
      await expect(s.put(row(1))).rejects.toThrow();
      expect((await s.query('SELECT count(*) AS n FROM results')).rows[0]!['n']).toBe(4);
    } finally {
      s.close();
    }
  });

  it('refuses to continue with other settings, listing each difference (typed error)', async () => {
    const other = { ...SETTINGS, method: 'integrated-gradients', options: { ...SETTINGS.options, abs: false } };
    await expect(ResultStore.open(path.join(dir, 'store'), other)).rejects.toMatchObject({
      code: 'invalid_argument',
      name: 'JobSettingsError',
      details: { reason: 'settings_changed', differences: [{ key: 'method', stored: 'saliency', given: 'integrated-gradients' }, { key: 'options.abs', stored: true, given: false }] },
    });
  });

  it('refuses folders that are not stores (missing, foreign files, a corrupt database)', async () => {
    await fs.mkdir(path.join(dir, 'foreign'));
    await fs.writeFile(path.join(dir, 'foreign', 'x.txt'), 'x');
    await expect(ResultStore.open(path.join(dir, 'foreign'), SETTINGS)).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'foreign_directory' } });
    await expect(ResultStore.read(path.join(dir, 'foreign'))).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'not_a_store' } });
    await expect(ResultStore.open(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'not_a_store' } });
    await fs.mkdir(path.join(dir, 'garbage'));
    await fs.writeFile(path.join(dir, 'garbage', 'results.duckdb'), 'not a database');
    await expect(ResultStore.read(path.join(dir, 'garbage'))).rejects.toMatchObject({ code: 'invalid_file' });
  });

  it('answers SQL over the table results (lists and metrics as columns); bad SQL is a typed error', async () => {
    const s = await ResultStore.read(path.join(dir, 'store'));
    try {
      const { columns, rows } = await s.query("SELECT input_id, target, deletion, top_features, shape FROM results WHERE status = 'ok' ORDER BY deletion DESC");
      expect(columns).toEqual(['input_id', 'target', 'deletion', 'top_features', 'shape']);
      expect(rows).toEqual([
        { input_id: 'in/2', target: 0, deletion: 2, top_features: [1, 0, 2], shape: [1, 3] },
        { input_id: 'in/1', target: 1, deletion: 1, top_features: [1, 0, 2], shape: [1, 3] },
        { input_id: 'in/0', target: 0, deletion: 0, top_features: [1, 0, 2], shape: [1, 3] },
      ]);
      await expect(s.query('SELECT nope FROM results')).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'query' } });
      await expect(s.query("INSERT INTO results (item) VALUES ('x')")).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(s.tensor('../../etc/passwd')).rejects.toMatchObject({ code: 'invalid_file' });
    } finally {
      s.close();
    }
  });

  it('writes query rows as CSV and Parquet (read back by DuckDB)', async () => {
    const s = await ResultStore.read(path.join(dir, 'store'));
    try {
      await s.copy('SELECT input_id, insertion FROM results WHERE insertion IS NOT NULL ORDER BY seq', path.join(dir, 'rows.csv'), 'csv');
      expect(await fs.readFile(path.join(dir, 'rows.csv'), 'utf8')).toBe('input_id,insertion\nin/0,10.0\nin/1,9.0\nin/2,8.0\n');
      await s.copy('SELECT input_id, insertion FROM results ORDER BY seq', path.join(dir, 'rows.parquet'), 'parquet');
      const back = await s.query(`SELECT count(*) AS n, sum(insertion) AS t FROM read_parquet('${path.join(dir, 'rows.parquet')}')`);
      expect(back.rows[0]).toEqual({ n: 4, t: 27 });
    } finally {
      s.close();
    }
  });

  it('exports one .npy per input named by its id, plus index.json', async () => {
    const s = await ResultStore.read(path.join(dir, 'store'));
    try {
      const out = path.join(dir, 'export');
      const entries = await exportStore(s, out);
      expect(entries.map((e) => [e.id, e.file, e.target])).toEqual([
        ['in/0', 'in_0.npy', 0],
        ['in/1', 'in_1.npy', 1],
        ['in/2', 'in_2.npy', 0],
      ]);
      expect((await fs.readdir(out)).sort()).toEqual(['in_0.npy', 'in_1.npy', 'in_2.npy', 'index.json']);
      const t = parseNpy(new Uint8Array(await fs.readFile(path.join(out, 'in_2.npy'))));
      expect(Array.from(t.data)).toEqual([2, -4, 0.5]);
      const index = JSON.parse(await fs.readFile(path.join(out, 'index.json'), 'utf8')) as { entries: { metrics: unknown }[] };
      expect(index.entries[1]!.metrics).toEqual({ deletion: 1, insertion: 9 });
      await expect(exportStore(s, out)).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'export' } });
    } finally {
      s.close();
    }
  });

  it('reports metric distributions and the worst inputs by each metric’s direction, and the failures', async () => {
    const s = await ResultStore.read(path.join(dir, 'store'));
    try {
      const r = await storeReport(s, 2);
      expect(r).toMatchObject({ rows: 4, ok: 3, failed: 1, errors: [{ inputId: 'in/3', error: 'invalid_file: broken' }] });
      const del = r.metrics.find((m) => m.metric === 'deletion')!;
      expect(del).toMatchObject({ count: 3, mean: 1, min: 0, median: 1, max: 2, higherIsBetter: false });
      expect(del.std).toBeCloseTo(1, 12);
      expect(del.p10).toBeCloseTo(0.2, 12);
      expect(del.worst.map((w) => w.inputId)).toEqual(['in/2', 'in/1']); // highest deletion first
      expect(r.metrics.find((m) => m.metric === 'insertion')!.worst.map((w) => w.inputId)).toEqual(['in/2', 'in/1']); // lowest insertion first
      const text = renderStoreReport(r);
      expect(text).toContain('rows: 4 (3 ok, 1 failed)');
      expect(text).toContain('worst inputs by deletion (highest first):');
    } finally {
      s.close();
    }
  });

  it('names tensor and export files safely and without collisions', () => {
    expect(tensorFileName('a/b#1@auto')).toMatch(/^a_b_1_auto-[0-9a-f]{8}\.npy$/);
    expect(tensorFileName('a/b')).not.toBe(tensorFileName('a_b'));
    expect(safeName('../x')).toBe('__x');
  });
});
