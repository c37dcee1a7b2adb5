// npm run bench:jobs — the acceptance run of issue 19 for dataset jobs: a job of JOBS_N inputs
// (default 2,000 rows of the tabular demo model, integrated gradients with deletion and sparseness
// per input) killed with SIGKILL at 3 random points and resumed, against an uninterrupted run of
// the same job. Prints the kill points, the row counts, whether every row and tensor is identical,
// and the wall times. JOBS_SEED picks the kill points.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/core/random.js';
import { encodeNpy } from '../src/io/npy.js';
import { attrib } from '../test/run-cli.js';
import { runAndKill, storeContents, storedTensors } from '../test/kill-run.js';
import { ROOT } from '../test/reference.js';

const N = Number(process.env['JOBS_N'] ?? 2000);
const rng = new Rng(Number(process.env['JOBS_SEED'] ?? 1));
const dir = await fs.mkdtemp(path.join(tmpdir(), 'attrib-jobs-bench-'));
try {
  const inputs = path.join(dir, 'x.npy');
  const data = new Rng(19);
  await fs.writeFile(inputs, encodeNpy({ dtype: 'float32', shape: [N, 10], data: Float32Array.from({ length: N * 10 }, () => data.normal()) }));
  const job = (out: string) => ['run', '--model', path.join(ROOT, 'models', 'demo-tabular'), '--inputs', inputs, '--method', 'integrated-gradients', '--metrics', 'deletion,sparseness', '--out', out, '--quiet'];
  const ref = path.join(dir, 'ref');
  const killed = path.join(dir, 'killed');
  let t0 = performance.now();
  const r = await attrib(...job(ref));
  if (r.code !== 0) throw new Error(`uninterrupted run failed: ${r.stderr}`);
  const refSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const points: number[] = [];
  for (let k = 0; k < 3; k++) {
    const stored = await storedTensors(killed);
    const at = Math.min(N - 10 * (3 - k), stored + 1 + Math.floor(rng.next() * (N / 3)));
    const run = await runAndKill(job(killed), killed, at);
    points.push(await storedTensors(killed));
    if (!run.killed) throw new Error(`run ${k + 1} finished before its kill point ${at}`);
  }
  const last = await attrib('run', '--out', killed, '--resume');
  if (last.code !== 0) throw new Error(`resumed run failed: ${last.stderr}`);
  const killedSeconds = (performance.now() - t0) / 1000;
  const [a, b] = await Promise.all([storeContents(ref), storeContents(killed)]);
  const ids = new Set(b.rows.map((row) => row['item']));
  const same = JSON.stringify(a.rows) === JSON.stringify(b.rows) && JSON.stringify(a.tensors) === JSON.stringify(b.tensors);
  console.log(JSON.stringify({ inputs: N, killedAtTensors: points, rows: b.rows.length, distinctItems: ids.size, tensors: await storedTensors(killed), identicalToUninterrupted: same, uninterruptedSeconds: +refSeconds.toFixed(1), killedAndResumedSeconds: +killedSeconds.toFixed(1) }, null, 2));
  if (!same || b.rows.length !== N || ids.size !== N) process.exitCode = 1;
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
