// attrib run --queue / attrib worker on a real redis-server (Debian's package; .ci/run installs it),
// started here on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeContents } from '../../../test/kill-run.js';
import { ROOT, removeTempDirs, tempDir } from '../../../test/reference.js';
import { Rng } from '../../core/random.js';
import { encodeNpy } from '../../io/npy.js';
import { connectionOf, rowFromJson, rowToJson } from '../../jobs/queue.js';
import { runCommand } from './run.js';

const N = 60;
const BIN = path.join(ROOT, 'bin', 'attrib.js');
const MODEL = path.join(ROOT, 'models', 'demo-tabular');

let dir: string;
let inputs: string;
/** A larger dataset for the job whose coordinator is stopped mid-way (it must not end before the stop). */
let many: string;
const MANY = 1000;
let redis: ChildProcess;
let url: string;

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  dir = tempDir('attrib-queue-');
  const rng = new Rng(5);
  inputs = path.join(dir, 'x.npy');
  await fs.writeFile(inputs, encodeNpy({ dtype: 'float32', shape: [N, 10], data: Float32Array.from({ length: N * 10 }, () => rng.normal()) }));
  many = path.join(dir, 'many.npy');
  await fs.writeFile(many, encodeNpy({ dtype: 'float32', shape: [MANY, 10], data: Float32Array.from({ length: MANY * 10 }, () => rng.normal()) }));
  const port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    redis.once('error', reject);
    redis.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && resolve());
  });
});
afterAll(() => {
  redis?.kill('SIGKILL');
  removeTempDirs();
});

/** `attrib worker` as a separate process; `keys` collects the items it reports done. */
function worker(cwd = ROOT, ...extra: string[]): { child: ChildProcess; keys: string[]; stderr: string[] } {
  const child = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--lock-duration', '2000', ...extra], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const keys: string[] = [];
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    stderr.push(d.toString());
    keys.push(...[...d.toString().matchAll(/^attrib worker: (\S+)$/gm)].map((m) => m[1]!));
  });
  return { child, keys, stderr };
}

/** Resolves once `done()` holds; fails after `ms` with `what` (and the worker's stderr) instead of hanging. */
function until(done: () => boolean, what: string, w: { stderr: string[] }, ms = 90_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const t = setInterval(() => {
      if (done()) (clearInterval(t), resolve());
      else if (Date.now() - t0 > ms) (clearInterval(t), reject(new Error(`timed out waiting for ${what}; worker stderr: ${w.stderr.join('').slice(-2000)}`)));
    }, 5);
  });
}

const flags = (out: string, extra: [string, string | true][] = []) =>
  new Map<string, string | true>([['model', MODEL], ['inputs', inputs], ['method', 'integrated-gradients'], ['steps', '16'], ['metrics', 'sparseness'], ['out', out], ['quiet', true], ...extra]);

describe('attrib run --queue and attrib worker', () => {
  it('two workers, one killed with SIGKILL mid-job: every item stored once, identical to a local run; --status shows it', async () => {
    const a = worker();
    let b: ReturnType<typeof worker> | undefined;
    try {
      const queued = path.join(dir, 'queued');
      const coordinator = runCommand(flags(queued, [['queue', url]]), new AbortController().signal);
      // worker b starts once a has done a few items (so that b cannot take them all first), and a is
      // killed while both run (it may hold one more item, locked, when it dies)
      await until(() => a.keys.length >= 3, 'worker a to finish 3 items', a);
      b = worker(ROOT, '--threads', '1'); // one ONNX Runtime thread: the same numbers
      const started = b;
      await until(() => started.keys.length >= 1 || a.keys.length >= N - 5, 'worker b to finish an item', started);
      a.child.kill('SIGKILL');
      const r = await coordinator;
      expect(r.summary).toMatchObject({ total: N, resumed: 0, computed: N, failed: 0 });
      expect(b.keys.length).toBeGreaterThan(0);
      const local = path.join(dir, 'local');
      await runCommand(flags(local), new AbortController().signal);
      const [q, l] = await Promise.all([storeContents(queued), storeContents(local)]);
      expect(new Set(q.rows.map((row) => row['item'])).size).toBe(N);
      expect(q.rows).toEqual(l.rows);
      expect(q.tensors).toEqual(l.tensors);
      const status = await runCommand(new Map<string, string | true>([['queue', url], ['status', true]]), new AbortController().signal);
      expect(status.stdout).toContain(`${path.resolve(queued)}: integrated-gradients, ${N}/${N} rows stored (100%)`);
      expect(status.stdout).toMatch(/0 waiting, 0 active, 0 delayed, \d+ completed, 0 failed/);

      // a coordinator stopped mid-job (other settings: a new job) and started again: the rows the
      // worker finished meanwhile are collected, nothing is queued twice, nothing is lost (1,000
      // items: the job cannot end between the 10th item and the abort)
      const again = path.join(dir, 'again');
      const ac = new AbortController();
      const seen = b.keys.length;
      const first = runCommand(flags(again, [['queue', url], ['metrics', 'complexity'], ['inputs', many]]), ac.signal);
      await until(() => b!.keys.length >= seen + 10, 'worker b to finish 10 items of the second job', b);
      ac.abort();
      await expect(first).rejects.toMatchObject({ code: 'aborted' });
      const resumed = await runCommand(flags(again, [['queue', url], ['metrics', 'complexity'], ['inputs', many]]), new AbortController().signal);
      expect(resumed.summary!.resumed + resumed.summary!.computed).toBe(MANY);
      expect(resumed.summary!.resumed).toBeGreaterThan(0);
      const rows = (await storeContents(again)).rows;
      expect(rows.length).toBe(MANY);
      expect(new Set(rows.map((row) => row['item'])).size).toBe(MANY);

      // a worker that cannot see the model (another working folder, a relative --model): each item
      // fails its 3 attempts and the coordinator stops with a typed error naming the item
      b.child.kill('SIGKILL');
      const c = worker(dir);
      try {
        const lost = runCommand(new Map<string, string | true>([...flags(path.join(dir, 'lost')), ['model', path.relative(ROOT, MODEL)], ['queue', url]]), new AbortController().signal);
        await expect(lost).rejects.toMatchObject({ code: 'backend_failure', details: { item: expect.stringMatching(/^x\.npy#\d+@auto$/) } });
      } finally {
        c.child.kill('SIGKILL');
      }
    } finally {
      a.child.kill('SIGKILL');
      b?.child.kill('SIGKILL');
    }
  });

  it('rows travel through Redis exactly (float32 bytes as base64); bad queue URLs are typed errors', () => {
    const row = { item: 'a@auto', inputId: 'a', seq: 0, method: 'saliency', target: 1, score: 0.5, status: 'ok' as const, metrics: { deletion: 0.25 }, topFeatures: [1, 0], topValues: [-0.1, 1e-8], elapsedMs: 3, attribution: { dtype: 'float32' as const, shape: [1, 2], data: Float32Array.from([1e-8, -0.1]) } };
    expect(rowFromJson(JSON.parse(JSON.stringify(rowToJson(row))))).toEqual(row);
    expect(connectionOf('redis://h:7000/2')).toMatchObject({ host: 'h', port: 7000, db: 2 });
    expect(() => connectionOf('http://h:7000')).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'queue' }) }));
  });
});
