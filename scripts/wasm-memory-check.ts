// Real wasm out-of-memory on real TF.js graph models (issue 17: "a batch too large for wasm memory is
// split, not fatal"). Each case runs in a child process on the `wasm` backend (so that a dead wasm
// module cannot take this script with it) and prints one row: model, call, rows, budget, outcome
// (ok with the rows of each slice the model ran / error code), the gradient or output of row 0
// against the same row computed alone, whether the backend still works after, wall time, peak RSS.
// Models: Human's face-attribute MobileNet (faceres, 224×224×3) and FaceMesh (192×192×3), devDependencies.
// `leave`: before the call the wasm heap is grown to its cap by `_malloc` blocks that are never written
// (address space, not RAM), leaving that many MiB: a real exhaustion of the real heap, cheaply.
// `raw-forward` is plain TF.js (GraphModel.execute, no attrib, so no guard): what happens unguarded.
// The 2400-row cases exhaust the heap with no fill (a 1.3 GiB input).
// Run: `nice npx tsx scripts/wasm-memory-check.ts [case,…]` (default: every case not marked extra,
// about 3 minutes on a busy 2-core machine; the extra ones, named, add about 1.5 minutes; peak RSS ≈ 4 GB in the cases that fill the 4 GiB heap, so that much RAM is needed).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillWasmHeap } from '../test/wasm-heap-fill.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HUGE = 1e15;

interface Case {
  readonly id: string;
  readonly model: 'faceres' | 'facemesh';
  readonly call: 'forward' | 'gradients' | 'raw-forward';
  readonly rows: number;
  /** MiB left free in the wasm heap before the call (the rest filled); undefined: no fill. */
  readonly leave?: number;
  /** Run only when named on the command line (keeps the default run near 3 minutes). */
  readonly extra?: true;
  /** memoryBudgetBytes; undefined: the default (512 MiB). */
  readonly budget?: number;
}

const CASES: readonly Case[] = [
  { id: 'faceres-forward-default', model: 'faceres', call: 'forward', rows: 128 },
  { id: 'faceres-gradients-default', model: 'faceres', call: 'gradients', rows: 4, extra: true },
  { id: 'facemesh-gradients-default', model: 'facemesh', call: 'gradients', rows: 96 },
  { id: 'facemesh-gradients-huge', model: 'facemesh', call: 'gradients', rows: 96, budget: HUGE, extra: true },
  { id: 'facemesh-gradients-huge-leave512', model: 'facemesh', call: 'gradients', rows: 48, budget: HUGE, leave: 512 },
  { id: 'facemesh-forward-huge-leave16', model: 'facemesh', call: 'forward', rows: 64, budget: HUGE, leave: 16 },
  { id: 'facemesh-raw-tfjs-leave16', model: 'facemesh', call: 'raw-forward', rows: 64, leave: 16 },
  { id: 'faceres-raw-tfjs-leave8', model: 'faceres', call: 'raw-forward', rows: 16, leave: 8 },
  { id: 'faceres-forward-huge-leave8', model: 'faceres', call: 'forward', rows: 16, budget: HUGE, leave: 8 },
  { id: 'facemesh-raw-tfjs-2400', model: 'facemesh', call: 'raw-forward', rows: 2400 },
  { id: 'facemesh-forward-huge-2400', model: 'facemesh', call: 'forward', rows: 2400, budget: HUGE },
];

interface ChildReport {
  readonly outcome: string;
  readonly slices?: readonly number[];
  readonly row0Diff?: number;
  readonly after: string;
  readonly refused: number;
  readonly seconds: number;
}

async function child(c: Case): Promise<ChildReport> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-wasm');
  const { loadModel } = await import('../src/io/load-model.js');
  const { GraphModelAdapter } = await import('../src/models/tfjs/graph-model.js');
  const { refusedAllocations, wasmModule } = await import('../src/models/tfjs/wasm-heap.js');
  const { AttributionError } = await import('../src/core/errors.js');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
  await tf.ready();
  const file = path.join(ROOT, 'node_modules', '@vladmandic', 'human', 'models', `${c.model}.json`);
  const model = await loadModel(file, { engine: 'tfjs', ...(c.budget === undefined ? {} : { memoryBudgetBytes: c.budget }) });
  if (!(model instanceof GraphModelAdapter)) throw new Error(`${c.model} did not load as a TF.js graph model`);
  const row = model.inputShape.slice(1).map((d) => d ?? 1);
  const objective = (o: import('@tensorflow/tfjs-core').Tensor) => tf.sum(tf.slice(tf.reshape(o, [o.shape[0]!, -1]), [0, 0], [-1, 1]), 1);
  const raw = (x: import('@tensorflow/tfjs-core').Tensor) => tf.tidy(() => model.model.execute({ [model.input]: x }, model.output) as import('@tensorflow/tfjs-core').Tensor);
  const run = (x: import('@tensorflow/tfjs-core').Tensor) =>
    c.call === 'forward' ? model.forward(x) : c.call === 'gradients' ? model.gradients(x, objective) : Promise.resolve(raw(x));
  const x = tf.randomUniform([c.rows, ...row], 0, 1, 'float32', 7);
  const x0 = tf.slice(x, 0, 1);
  const alone = Array.from(await (await run(x0)).data());
  // the rows of every execute that the input feeds: one per slice (gradients: per pass of a slice)
  const slices: number[] = [];
  const execute = model.model.execute.bind(model.model);
  model.model.execute = (inputs, outputs) => {
    const fed = !Array.isArray(inputs) && !(inputs instanceof tf.Tensor) ? inputs[model.input] : undefined;
    if (fed) slices.push(fed.shape[0]!);
    return execute(inputs, outputs);
  };
  const heap = wasmModule();
  const release = c.leave !== undefined && heap ? fillWasmHeap(heap, c.leave) : () => undefined;
  const refused = refusedAllocations();
  const t0 = performance.now();
  let outcome: string;
  let row0Diff: number | undefined;
  try {
    const y = await run(x);
    const v = await y.data();
    row0Diff = alone.reduce((m, a, i) => Math.max(m, Math.abs(a - v[i]!)), 0);
    outcome = 'ok';
    y.dispose();
  } catch (e) {
    outcome = e instanceof AttributionError ? `error ${e.code}${e.details['dead'] ? ' (backend dead)' : e.details['outOfMemory'] ? ' (out of memory)' : ''}` : `error ${(e as Error).constructor.name}: ${(e as Error).message.slice(0, 60)}`;
  }
  const seconds = (performance.now() - t0) / 1000;
  model.model.execute = execute;
  release();
  let after: string;
  try {
    const again = Array.from(await (await run(x0)).data());
    after = again.every((a, i) => Math.abs(a - alone[i]!) <= 1e-6 * Math.max(1, Math.abs(a))) ? 'works' : 'WRONG numbers';
  } catch (e) {
    after = `fails: ${(e as Error).message.slice(0, 50)}`;
  }
  return { outcome, slices, ...(row0Diff === undefined ? {} : { row0Diff }), after, refused: refusedAllocations() - refused, seconds };
}

/** The distinct row counts the model was executed on, in order of first use (e.g. 96, 48, 24 after halvings). */
const slicesText = (s: readonly number[] | undefined): string => [...new Set(s ?? [])].join(', ');

if (process.argv[2] === '--child') {
  const c = CASES.find((k) => k.id === process.argv[3]);
  if (!c) throw new Error(`no case ${process.argv[3]}`);
  const report = await child(c);
  process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
  process.exit(0);
} else {
  const want = process.argv[2]?.split(',');
  const mib = (b: number | undefined) => (b === undefined ? 'default' : b >= HUGE ? 'unbounded' : `${(b / 2 ** 20).toFixed(0)} MiB`);
  console.log('| model | call | rows | budget | outcome | rows per call (in order) | row 0 vs alone | refused allocs | backend after | wall s | peak RSS MiB |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of CASES.filter((k) => (want ? want.includes(k.id) : !k.extra))) {
    const budget = `${mib(c.budget)}${c.leave === undefined ? '' : `, heap filled to ${c.leave} MiB free`}`;
    const r = spawnSync('/usr/bin/time', ['-f', 'RSS %M', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', c.id], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('REPORT '));
    const rss = Number(/RSS (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
    if (!line) {
      console.log(`| ${c.model} | ${c.call} | ${c.rows} | ${budget} | child died (status ${r.status}, signal ${r.signal}): ${r.stderr.split('\n').filter((l) => l.trim()).slice(-2).join(' / ').slice(0, 120)} | | | | | | ${rss.toFixed(0)} |`);
      continue;
    }
    const rep = JSON.parse(line.slice(7)) as ChildReport;
    console.log(`| ${c.model} | ${c.call} | ${c.rows} | ${budget} | ${rep.outcome} | ${slicesText(rep.slices)} | ${rep.row0Diff === undefined ? '' : rep.row0Diff.toExponential(1)} | ${rep.refused} | ${rep.after} | ${rep.seconds.toFixed(1)} | ${rss.toFixed(0)} |`);
  }
}
