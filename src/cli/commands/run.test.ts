// attrib run / attrib results as a user runs them: separate processes, killed with SIGKILL mid-job.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { attrib } from '../../../test/run-cli.js';
import { runAndKill, storeContents, storedTensors } from '../../../test/kill-run.js';
import { ROOT, removeTempDirs, tempDir } from '../../../test/reference.js';
import { Rng } from '../../core/random.js';
import { encodeNpy } from '../../io/npy.js';
import { TENSOR_DIR } from '../../jobs/store.js';
import { main } from '../main.js';
import { resultsCommand } from './results.js';
import { runCommand } from './run.js';

/** Inputs of the kill test (the 2,000-input acceptance run is bench/jobs-kill.ts). */
const N = 200;
const MODEL = path.join(ROOT, 'models', 'demo-tabular');

let dir: string;
let inputs: string;
beforeAll(async () => {
  await useBackend('cpu');
  dir = tempDir('attrib-run-');
  const rng = new Rng(19);
  inputs = path.join(dir, 'x.npy');
  await fs.writeFile(inputs, encodeNpy({ dtype: 'float32', shape: [N, 10], data: Float32Array.from({ length: N * 10 }, () => rng.normal()) }));
});
afterAll(removeTempDirs);

const job = (out: string) => ['run', '--model', MODEL, '--inputs', inputs, '--method', 'integrated-gradients', '--steps', '16', '--metrics', 'sparseness,deletion', '--metric-steps', '5', '--out', out, '--quiet'];

describe('attrib run', () => {
  it(`killed with SIGKILL 3 times at random points and resumed: exactly ${N} results, identical to an uninterrupted run`, async () => {
    const ref = path.join(dir, 'ref');
    const killedStore = path.join(dir, 'killed');
    const reference = attrib(...job(ref));
    const rng = new Rng(7);
    let kills = 0;
    for (let k = 0; k < 3; k++) {
      // a random point after what is stored, leaving work for the next run
      const stored = await storedTensors(killedStore);
      const at = Math.min(N - 10 * (3 - k), stored + 1 + Math.floor(rng.next() * (N / 4)));
      const r = await runAndKill(job(killedStore), killedStore, at);
      if (r.killed) kills++;
      expect(r.locked).toMatchObject({ code: 'invalid_argument', details: { reason: 'locked' } });
    }
    expect(kills).toBe(3);
    const before = (await fs.readdir(path.join(killedStore, TENSOR_DIR))).length;
    expect(before).toBeLessThan(N);
    // the last run continues with the store's own settings
    const last = await attrib('run', '--out', killedStore, '--resume');
    expect(last.code).toBe(0);
    expect(last.stderr).toMatch(new RegExp(`${N} rows, \\d+ already stored, \\d+ computed`));
    expect((await reference).code).toBe(0);
    const [a, b] = await Promise.all([storeContents(ref), storeContents(killedStore)]);
    expect(b.rows).toHaveLength(N);
    expect(new Set(b.rows.map((r) => (r as { item: string }).item)).size).toBe(N);
    expect(b.rows).toEqual(a.rows);
    expect(b.tensors).toEqual(a.tensors);
    // nothing left over: one tensor per row
    expect((await fs.readdir(path.join(killedStore, TENSOR_DIR))).filter((f) => f.endsWith('.npy'))).toHaveLength(N);
    // the report, a query, CSV and an export of the finished store
    const report = String((await resultsCommand(new Map(), killedStore)).stdout);
    expect(report).toContain(`rows: ${N} (${N} ok, 0 failed)`);
    expect(report).toMatch(/worst inputs by deletion \(highest first\):\n\s+\S+\s+x\.npy#\d+ \(target \d\)/);
    const query = await resultsCommand(new Map([['query', "SELECT count(*) AS n, count(DISTINCT input_id) AS inputs FROM results WHERE status = 'ok'"], ['format', 'json']]), killedStore);
    expect(JSON.parse(String(query.stdout))).toEqual([{ n: N, inputs: N }]);
    const csv = await resultsCommand(new Map([['query', 'SELECT input_id, target FROM results ORDER BY seq LIMIT 2'], ['format', 'csv']]), killedStore);
    expect(String(csv.stdout).split('\n')[1]).toMatch(/^"?x\.npy#0"?,\d$/);
    await resultsCommand(new Map([['export', path.join(dir, 'export')]]), killedStore);
    const index = JSON.parse(await fs.readFile(path.join(dir, 'export', 'index.json'), 'utf8')) as { entries: { id: string; file: string }[] };
    expect(index.entries).toHaveLength(N);
    expect(index.entries[5]).toMatchObject({ id: 'x.npy#5', file: 'x.npy_5.npy' });
  });

  it('explains a folder of images through the image pipeline (a glob of PNGs)', async () => {
    const out = path.join(dir, 'images');
    const flags = { model: path.join(ROOT, 'models', 'demo-image'), inputs: `${ROOT}/models/demo-image/sample-*.png`, method: 'saliency', metrics: 'sparseness', out, quiet: true as const };
    const r = await runCommand(new Map(Object.entries(flags)), new AbortController().signal);
    expect(r.summary).toMatchObject({ total: 4, computed: 4, failed: 0 });
    const q = await resultsCommand(new Map([['query', 'SELECT input_id, shape FROM results ORDER BY seq'], ['format', 'json']]), out);
    expect(JSON.parse(String(q.stdout))).toEqual([0, 1, 2, 3].map((k) => ({ input_id: `sample-${k}.png`, shape: [1, 32, 32, 3] })));
  });

  it('bad input: one line on stderr, exit 2', async () => {
    const store = path.join(dir, 'ref');
    const cases: string[][] = [
      ['run', '--model', MODEL, '--inputs', inputs, '--method', 'saliency'],
      ['run', '--model', MODEL, '--inputs', inputs, '--method', 'saliency', '--metrics', 'nope', '--out', path.join(dir, 'x1')],
      ['run', '--model', MODEL, '--inputs', path.join(dir, 'missing'), '--method', 'saliency', '--out', path.join(dir, 'x2')],
      ['run', '--out', path.join(dir, 'not-a-store'), '--resume'],
      job(store).map((a) => (a === '16' ? '17' : a)),
      ['run', '--model', MODEL, '--inputs', inputs, '--method', 'saliency', '--target', 'two', '--out', path.join(dir, 'x3')],
      ['results', path.join(dir, 'not-a-store')],
      ['results', store, '--query', 'SELECT nope FROM results'],
      ['results', store, '--format', 'xml'],
      ['results', store, '--export', inputs],
    ];
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const lines: string[] = [];
    try {
      for (const c of cases) {
        err.mockClear();
        expect(await main(c), c.join(' ')).toBe(2);
        const written = err.mock.calls.map((call) => String(call[0])).join('');
        expect(written.trim().split('\n'), written).toHaveLength(1);
        lines.push(written);
      }
    } finally {
      err.mockRestore();
    }
    expect(lines[0]).toContain('needs --out');
    expect(lines[1]).toContain("Unknown metric 'nope'");
    expect(lines[2]).toContain('is not a file, a folder or a glob');
    expect(lines[4]).toContain('options.steps: 16 → 17');
    expect(lines[7]).toContain('Query failed');
  });
});
