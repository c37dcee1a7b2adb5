import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { expectNoLeak } from '../../test/leak-check.js';
import { linear2 } from '../../test/reference-models.js';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { findMethod } from '../methods.js';
import { sparseness } from '../metrics/complexity.js';
import { deletionCurve } from '../metrics/deletion.js';
import { DatasetReader, listDataset } from './dataset.js';
import { runJob, topFeatures, workItems, type LocalJob } from './run-job.js';
import type { JobSettings } from './settings.js';
import { ResultStore } from './store.js';

const W = [1, -2, 0.5, 3];
const ROWS = [
  [1, 1, 1, 1],
  [-1, 2, 0, 1],
  [0.5, -0.5, 2, -1],
  [2, 0, -1, 0.25],
  [-3, 1, 1, -2],
  [0, 0, 4, 1],
];
const dot = (r: number[]) => r.reduce((a, v, i) => a + v * W[i]!, 0);

let dir: string;
beforeAll(async () => {
  await useBackend('cpu');
  dir = tempDir('attrib-jobs-run-');
  await fs.writeFile(path.join(dir, 'x.json'), JSON.stringify(ROWS));
});
afterAll(removeTempDirs);

const settings = (extra: Partial<JobSettings> = {}): JobSettings => ({
  model: 'linear2',
  modelDigest: 'd',
  inputs: 'x.json',
  inputCount: ROWS.length,
  inputsDigest: 'i',
  method: 'integrated-gradients',
  metrics: ['sparseness', 'deletion'],
  targets: ['auto'],
  options: {},
  ...extra,
});

async function job(store: ResultStore, over: Partial<LocalJob> = {}): Promise<LocalJob> {
  const model = linear2(W);
  const dataset = await listDataset(path.join(dir, 'x.json'), 2);
  return {
    model,
    dataset,
    reader: new DatasetReader(),
    method: findMethod('integrated-gradients').create(model, { options: { steps: 16 } }),
    options: { steps: 16 } as LocalJob['options'],
    targets: ['auto'],
    metrics: ['sparseness', 'deletion'],
    metricOptions: { steps: 4, samples: 4, seed: 0 },
    store,
    ...over,
  };
}

describe('runJob', () => {
  it('stores IG = w ⊙ x for target auto (the larger of x·w and −x·w), the score, top features and metrics as computed directly', async () => {
    const store = await ResultStore.open(path.join(dir, 'full'), settings());
    try {
      const j = await job(store);
      await expectNoLeak(async () => {
        const s = await runJob(j);
        expect(s).toMatchObject({ total: ROWS.length, resumed: 0, computed: ROWS.length, failed: 0 });
      });
      const { rows } = await store.query('SELECT * FROM results ORDER BY seq');
      expect(rows).toHaveLength(ROWS.length);
      for (const [k, r] of rows.entries()) {
        const x = ROWS[k]!;
        const target = dot(x) >= 0 ? 0 : 1;
        const sign = target === 0 ? 1 : -1;
        expect(r['input_id']).toBe(`x.json#${k}`);
        expect(r['target']).toBe(target);
        expect(Number(r['score'])).toBeCloseTo(sign * dot(x), 5);
        const t = await store.tensor(String(r['tensor']));
        expect(t.shape).toEqual([1, 4]);
        t.data.forEach((v, i) => expect(Math.abs(v - sign * W[i]! * x[i]!)).toBeLessThan(1e-4));
        expect(r['top_features']).toEqual(topFeatures(t.data, 10));
        const a = tf.tensor(t.data, [1, 4]);
        const xt = tf.tensor([x]);
        const direct = (await sparseness(a))[0]!;
        const del = (await deletionCurve(j.model, xt, a, { target, steps: 4 })).auc[0]!;
        tf.dispose([a, xt]);
        expect(Number(r['sparseness'])).toBeCloseTo(direct, 10);
        expect(Number(r['deletion'])).toBeCloseTo(del, 6);
      }
    } finally {
      store.close();
    }
  });

  it('stopped after 2 items and run again, computes only the other items and ends with the rows of an uninterrupted run', async () => {
    const full = await ResultStore.open(path.join(dir, 'ref'), settings());
    await runJob(await job(full));
    const ac = new AbortController();
    const first = await ResultStore.open(path.join(dir, 'resumed'), settings());
    let n = 0;
    await expect(runJob(await job(first, { signal: ac.signal, onProgress: () => ++n === 2 && ac.abort() }))).rejects.toMatchObject({ code: 'aborted' });
    first.close();
    const again = await ResultStore.open(path.join(dir, 'resumed'), settings());
    const s = await runJob(await job(again));
    expect(s).toMatchObject({ total: ROWS.length, resumed: 2, computed: ROWS.length - 2 });
    const cols = 'item, input_id, seq, target, score, sparseness, deletion, top_features, top_values, tensor';
    const [a, b] = [(await full.query(`SELECT ${cols} FROM results ORDER BY item`)).rows, (await again.query(`SELECT ${cols} FROM results ORDER BY item`)).rows];
    expect(b).toEqual(a);
    for (const r of a) expect(await again.tensor(String(r['tensor']))).toEqual(await full.tensor(String(r['tensor'])));
    full.close();
    again.close();
  });

  it('one row per (input, target) for several targets; an input that fails later is stored as an error and the job goes on', async () => {
    await fs.writeFile(path.join(dir, 'mixed.jsonl'), [JSON.stringify({ id: 'a', input: [1, 2, 3, 4] }), JSON.stringify({ id: 'b', input: [1, 2, 3] }), JSON.stringify({ id: 'c', input: [0, 1, 0, 1], target: 1 })].join('\n'));
    const store = await ResultStore.open(path.join(dir, 'mixed'), settings({ targets: [0, 1] }));
    try {
      const j = { ...(await job(store)), dataset: await listDataset(path.join(dir, 'mixed.jsonl'), 2), targets: [0, 1] as const };
      expect(workItems(j.dataset, j.targets).map((w) => w.key)).toEqual(['a@0', 'a@1', 'b@0', 'b@1', 'c@1']);
      const s = await runJob(j);
      expect(s).toMatchObject({ total: 5, computed: 5, failed: 2 });
      const { rows } = await store.query('SELECT item, status, error FROM results ORDER BY item');
      expect(rows.map((r) => [r['item'], r['status']])).toEqual([
        ['a@0', 'ok'],
        ['a@1', 'ok'],
        ['b@0', 'error'],
        ['b@1', 'error'],
        ['c@1', 'ok'],
      ]);
      expect(String(rows[2]!['error'])).toMatch(/^shape_mismatch: /);
    } finally {
      store.close();
    }
  });

  it('throws when the first input fails and nothing succeeded yet (the settings are likely wrong for all)', async () => {
    // an image, and no image reader: every input of this dataset would fail the same way
    await fs.mkdir(path.join(dir, 'bad'));
    await fs.writeFile(path.join(dir, 'bad', 'a.png'), new Uint8Array(8));
    await fs.writeFile(path.join(dir, 'bad', 'b.json'), JSON.stringify([1, 2, 3, 4]));
    const store = await ResultStore.open(path.join(dir, 'bad-store'), settings());
    try {
      const j = { ...(await job(store)), dataset: await listDataset(path.join(dir, 'bad'), 2) };
      await expect(runJob(j)).rejects.toMatchObject({ code: 'invalid_argument', details: { id: 'a.png' } });
      expect((await store.doneItems()).size).toBe(0);
    } finally {
      store.close();
    }
  });
});
