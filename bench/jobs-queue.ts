// npm run bench:queue — issue 19's scale-out figure: the same job on 1 and on 2 `attrib worker`s of
// one redis-server (Debian's, started here on a free loopback port). QUEUE_N inputs (default 200) of
// the image demo model, integrated gradients (QUEUE_STEPS, default 500 steps, so that computing an item, ~90 ms, outweighs the
// coordinator's durable write of its result; at 50 steps an item is ~18 ms and the coordinator sets the pace). Each worker is warmed
// up on a small job first (start-up, TF.js and ONNX Runtime initialisation are not timed); then the
// job's time is read from the coordinator's summary line. Each timed run still includes one worker
// loading the job (model, dataset listing, backward-graph compile). Prints seconds per setting and the speed-up. Meaningful only on an otherwise idle
// machine. Each worker runs ONNX Runtime on QUEUE_THREADS threads (default 1, as the issue asks: one
// worker per core; `QUEUE_THREADS=0` leaves ORT its own choice).
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/core/random.js';
import { encodeNpy } from '../src/io/npy.js';
import { attrib } from '../test/run-cli.js';
import { ROOT } from '../test/reference.js';

const N = Number(process.env['QUEUE_N'] ?? 200);
const STEPS = String(process.env['QUEUE_STEPS'] ?? 500);
const THREADS = Number(process.env['QUEUE_THREADS'] ?? 1);
const BIN = path.join(ROOT, 'bin', 'attrib.js');
const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const url = `redis://127.0.0.1:${port}`;
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve) => redis.stdout.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && resolve()));
const dir = await fs.mkdtemp(path.join(tmpdir(), 'attrib-queue-bench-'));
const workers: ChildProcess[] = [];
try {
  const rng = new Rng(3);
  const write = (file: string, n: number) => fs.writeFile(file, encodeNpy({ dtype: 'float32', shape: [n, 32, 32, 3], data: Float32Array.from({ length: n * 32 * 32 * 3 }, () => rng.next()) }));
  await write(path.join(dir, 'x.npy'), N);
  await write(path.join(dir, 'warm.npy'), 4);
  const job = (inputs: string, out: string) => ['run', '--model', path.join(ROOT, 'models', 'demo-image'), '--inputs', inputs, '--method', 'integrated-gradients', '--steps', STEPS, '--out', out, '--queue', url, '--quiet'];
  const seconds: Record<number, number> = {};
  for (const k of [1, 2]) {
    while (workers.length < k) workers.push(spawn(process.execPath, [BIN, 'worker', '--queue', url, '--quiet', ...(THREADS > 0 ? ['--threads', String(THREADS)] : [])], { cwd: ROOT, stdio: 'ignore' }));
    // every worker loads the job of the warm-up: as many items as workers, twice over
    const warm = await attrib(...job(path.join(dir, 'warm.npy'), path.join(dir, `warm-${k}`)));
    if (warm.code !== 0) throw new Error(warm.stderr);
    // the job's own time (its summary line), without the coordinator's start-up
    const r = await attrib(...job(path.join(dir, 'x.npy'), path.join(dir, `run-${k}`)).filter((a) => a !== '--quiet'));
    if (r.code !== 0) throw new Error(r.stderr);
    seconds[k] = Number(/computed, ([\d.]+) s$/m.exec(r.stderr)?.[1]);
  }
  console.log(JSON.stringify({ inputs: N, steps: Number(STEPS), threadsPerWorker: THREADS > 0 ? THREADS : 'ort default', oneWorkerSeconds: +seconds[1]!.toFixed(1), twoWorkersSeconds: +seconds[2]!.toFixed(1), speedUp: +(seconds[1]! / seconds[2]!).toFixed(2) }, null, 2));
} finally {
  for (const w of workers) w.kill('SIGKILL');
  redis.kill('SIGKILL');
  await fs.rm(dir, { recursive: true, force: true });
}
