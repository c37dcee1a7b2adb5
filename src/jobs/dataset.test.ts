import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { encodeNpy } from '../io/npy.js';
import { DatasetReader, listDataset } from './dataset.js';
import { globRegExp } from './glob.js';

let dir: string;
const npy = (shape: number[], start: number) => encodeNpy({ dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => start + i) });

beforeAll(async () => {
  dir = tempDir('attrib-jobs-data-');
  await fs.mkdir(path.join(dir, 'set', 'sub'), { recursive: true });
  await fs.writeFile(path.join(dir, 'set', 'batch.npy'), npy([3, 2], 0)); // three inputs
  await fs.writeFile(path.join(dir, 'set', 'one.npy'), npy([2], 100)); // rank − 1: one input
  await fs.writeFile(path.join(dir, 'set', 'sub', 'two.json'), JSON.stringify([[7, 8], [9, 10]]));
  await fs.writeFile(path.join(dir, 'set', 'sub', 'recs.jsonl'), `{"id": "r1", "input": [1, 2], "target": 1}\n\n[3, 4]\n{"input": {"shape": [2], "data": [5, 6]}}\n`);
  await fs.writeFile(path.join(dir, 'set', 'notes.txt'), 'ignored');
  await fs.writeFile(path.join(dir, 'set', '.hidden.npy'), npy([1, 2], 0));
});
afterAll(removeTempDirs);

describe('listDataset', () => {
  it('lists a folder recursively, sorted, with stable ids (file#row for batches, the file for single inputs, record ids)', async () => {
    const d = await listDataset(path.join(dir, 'set'), 2);
    expect(d.items.map((i) => i.id)).toEqual(['batch.npy#0', 'batch.npy#1', 'batch.npy#2', 'one.npy', 'r1', 'sub/recs.jsonl#1', 'sub/recs.jsonl#2', 'sub/two.json#0', 'sub/two.json#1']);
    expect(d.items.find((i) => i.id === 'r1')?.target).toBe(1);
  });

  it('reads each input as one row [1, …]', async () => {
    const d = await listDataset(path.join(dir, 'set'), 2);
    const reader = new DatasetReader();
    const rows = [];
    for (const it of d.items) rows.push(await reader.read(it));
    expect(rows.map((r) => r.shape)).toEqual(d.items.map(() => [1, 2]));
    expect(rows.map((r) => Array.from(r.data))).toEqual([[0, 1], [2, 3], [4, 5], [100, 101], [1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
  });

  it('takes a glob (relative to its fixed part) and a single file', async () => {
    expect((await listDataset(`${dir}/set/**/*.json*`, 2)).items.map((i) => i.id)).toEqual(['r1', 'sub/recs.jsonl#1', 'sub/recs.jsonl#2', 'sub/two.json#0', 'sub/two.json#1']);
    expect((await listDataset(`${dir}/set/*.npy`, 2)).items.map((i) => i.id)).toEqual(['batch.npy#0', 'batch.npy#1', 'batch.npy#2', 'one.npy']);
    expect((await listDataset(path.join(dir, 'set', 'batch.npy'), 2)).items).toHaveLength(3);
  });

  it('glob syntax: ** spans folders, * and ? stay within a name, [..] sets', () => {
    const re = globRegExp('a/**/*.p?g');
    expect(['a/x.png', 'a/b/c/x.png', 'a/x.jpg'].map((p) => re.test(p))).toEqual([true, true, false]);
    expect(globRegExp('*.npy').test('sub/x.npy')).toBe(false);
    expect(globRegExp('img[0-9].png').test('img3.png')).toBe(true);
    expect(globRegExp('img[!0-9].png').test('img3.png')).toBe(false);
  });

  it('refuses missing paths, empty datasets, duplicate ids and malformed records with typed errors', async () => {
    await expect(listDataset(path.join(dir, 'nope'), 2)).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'missing' } });
    await fs.mkdir(path.join(dir, 'empty'));
    await expect(listDataset(path.join(dir, 'empty'), 2)).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'empty' } });
    await fs.writeFile(path.join(dir, 'dup.jsonl'), '{"id": "a", "input": [1, 2]}\n{"id": "a", "input": [3, 4]}\n');
    await expect(listDataset(path.join(dir, 'dup.jsonl'), 2)).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'duplicate_id', id: 'a' } });
    await fs.writeFile(path.join(dir, 'broken.jsonl'), '[1, 2]\n{"input": [1, \n');
    await expect(listDataset(path.join(dir, 'broken.jsonl'), 2)).rejects.toMatchObject({ code: 'invalid_file', details: { line: 2 } });
    await fs.writeFile(path.join(dir, 'target.jsonl'), '{"input": [1, 2], "target": -1}\n');
    await expect(listDataset(path.join(dir, 'target.jsonl'), 2)).rejects.toMatchObject({ code: 'invalid_file', details: { line: 1 } });
    await fs.writeFile(path.join(dir, 'trunc.npy'), npy([4, 2], 0).slice(0, 100));
    await expect(listDataset(path.join(dir, 'trunc.npy'), 2)).rejects.toMatchObject({ code: 'invalid_file' });
    await fs.writeFile(path.join(dir, 'x.csv'), '1,2');
    await expect(listDataset(path.join(dir, 'x.csv'), 2)).rejects.toMatchObject({ code: 'invalid_argument', details: { reason: 'extension' } });
  });

  it('a file that changed since it was listed is a typed error when read', async () => {
    const file = path.join(dir, 'shrinks.npy');
    await fs.writeFile(file, npy([3, 2], 0));
    const d = await listDataset(file, 2);
    await fs.writeFile(file, npy([1, 2], 0));
    await expect(new DatasetReader().read(d.items[2]!)).rejects.toMatchObject({ code: 'invalid_file' });
  });
});
