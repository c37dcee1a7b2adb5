// `npm run fuzz`: the full fuzz run (≥ 10^5 mutants over all parsers of untrusted files), one table
// row per format; exits 1 on any untyped error or too-slow case. Options: --seed N, --scale F
// (multiplies every target's case count), --only NAME[,NAME].
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Worker } from 'node:worker_threads';
import { TARGETS } from '../test/fuzz/targets.js';
import { fuzzTarget, type FuzzReport } from '../test/fuzz/run.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
};
const seed = Number(arg('seed') ?? 1);
const scale = Number(arg('scale') ?? 1);
const only = arg('only')?.split(',');

await tf.setBackend('cpu');
// ONNX Runtime logs a warning for many mutants it then loads or refuses: keep the table readable
(await import('onnxruntime-node')).env.logLevel = 'fatal';

// watchdog: a case that never returns (a synchronous endless loop) cannot be timed out in-process,
// so a worker thread watches a heartbeat and ends the run naming the case after WATCHDOG_MS
const WATCHDOG_MS = 60_000;
const beat = new Int32Array(new SharedArrayBuffer(12)); // [target index, case index, seconds since start]
const t0 = Date.now();
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   const beat = new Int32Array(workerData.sab);
   let last = -1, since = Date.now();
   setInterval(() => {
     const now = Atomics.load(beat, 1) * 1000 + Atomics.load(beat, 0);
     if (now !== last) { last = now; since = Date.now(); return; }
     if (Date.now() - since > ${WATCHDOG_MS}) {
       console.error('HANG: target #' + Atomics.load(beat, 0) + ' case ' + Atomics.load(beat, 1) + ' has run over ${WATCHDOG_MS} ms');
       process.kill(process.pid, 'SIGKILL');
     }
   }, 1000).unref();`,
  { eval: true, workerData: { sab: beat.buffer } },
);
watchdog.unref();
const reports: FuzzReport[] = [];
const mb = (b: number): string => (b / 2 ** 20).toFixed(0);
console.log(`seed ${seed}, scale ${scale}`);
console.log('format              cases  success    typed  failures   max ms  peak RSS MB');
for (const t of TARGETS) {
  if (only && !only.includes(t.name)) continue;
  const index = TARGETS.indexOf(t);
  const r = await fuzzTarget(t, {
    seed,
    count: Math.max(1, Math.round(t.cases * scale)),
    onCase: (i) => {
      Atomics.store(beat, 0, index);
      Atomics.store(beat, 1, i);
      Atomics.store(beat, 2, Math.floor((Date.now() - t0) / 1000));
    },
  });
  reports.push(r);
  console.log(`${t.name.padEnd(18)}${String(r.cases).padStart(7)}${String(r.successes).padStart(9)}${String(r.typedErrors).padStart(9)}${String(r.failures.length).padStart(10)}${r.maxMs.toFixed(0).padStart(9)}${mb(r.peakRss).padStart(13)}`);
  for (const f of r.failures.slice(0, 10)) console.log(`  case ${f.caseIndex}: ${f.what}`);
}
const total = reports.reduce((a, r) => a + r.cases, 0);
const failed = reports.reduce((a, r) => a + r.failures.length, 0);
console.log(`total ${total} cases, ${failed} failures, peak RSS ${mb(Math.max(...reports.map((r) => r.peakRss)))} MB, tf tensors left ${tf.memory().numTensors}`);
process.exitCode = failed > 0 ? 1 : 0;
await watchdog.terminate();
