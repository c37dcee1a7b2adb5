// npm run bench: times every method on the reference models of test/fixtures/reference (8 inputs per
// call) and prints, per method, ms per input, model evaluations, and the overhead ratio = method
// time ÷ the time the bare model takes for the same calls (same kind, same rows), measured in
// interleaved rounds (method, then bare replay) so that machine load affects both sides alike.
// Medians of BENCH_REPEATS rounds (default 15). BENCH_ONLY=image_cnn limits it to one model,
// BENCH_BACKEND=cpu switches the TF.js backend. Writes bench/results.json.
// First, the Captum comparison (captumComparison): the reference image CNN on loadModel's default
// engine, from model.json and from model.onnx (BENCH_ONLY=captum runs only that). Last, the
// transformer component methods against PyTorch (bench/components.ts; BENCH_ONLY=components runs only that).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../src/cli/backend.js';
import { findMethod } from '../src/methods.js';
import type { AttributeOptions, MethodId } from '../src/core/types.js';
import type { CallContext } from '../src/models/model.js';
import type { DifferentiableModel } from '../src/models/model.js';
import { gridMask } from '../src/attr/masks.js';
import { objectiveFor } from '../src/core/target.js';
import { examples, loadReferenceModel, reference, referencePath, ROOT, type RefModel } from '../test/reference.js';
import { fromOnnx } from '../src/models/onnx/node.js';
import { deletionCurve, insertionCurve } from '../src/metrics/deletion.js';
import { engineThroughput, igCalls } from './engines.js';
import { loadModel } from '../src/io/load-model.js';
import { startTorchSide } from './torch-side.js';

const BATCH = 128;
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 15);

interface Counted {
  readonly model: DifferentiableModel;
  /** Every model call of the last run: kind and rows. */
  calls: { kind: 'fwd' | 'grad'; rows: number }[];
}

function counting(inner: DifferentiableModel): Counted {
  const c: Counted = {
    calls: [],
    model: {
      name: inner.name,
      inputShape: inner.inputShape,
      ...(inner.outputShape ? { outputShape: inner.outputShape } : {}),
      capabilities: inner.capabilities,
      forward: (x) => (c.calls.push({ kind: 'fwd', rows: x.shape[0]! }), inner.forward(x)),
      ...(inner.forwardHost ? { forwardHost: (d: Float32Array, s: readonly number[], ctx?: CallContext) => (c.calls.push({ kind: 'fwd', rows: s[0]! }), inner.forwardHost!(d, s, ctx)) } : {}),
      gradients: (x, o) => (c.calls.push({ kind: 'grad', rows: x.shape[0]! }), inner.gradients(x, o)),
      dispose: () => inner.dispose(),
    },
  };
  return c;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Replays `calls` on the bare model (the same kinds and row counts) and returns the elapsed ms. */
async function replay(model: DifferentiableModel, calls: Counted['calls'], inputs: Map<number, tf.Tensor>, hostData: Map<number, Float32Array>, x: tf.Tensor): Promise<number> {
  for (const c of calls) {
    if (!inputs.has(c.rows)) {
      const reps = Math.ceil(c.rows / x.shape[0]!);
      inputs.set(c.rows, tf.tidy(() => tf.slice(tf.concat(Array.from({ length: reps }, () => x), 0), 0, c.rows)));
    }
  }
  for (const c of calls) if (!hostData.has(c.rows)) hostData.set(c.rows, (await inputs.get(c.rows)!.data()) as Float32Array);
  const t0 = performance.now();
  for (const c of calls) {
    const xb = inputs.get(c.rows)!;
    if (c.kind === 'fwd' && model.forwardHost) {
      // the engine's fastest forward path: host arrays in, host arrays out
      await model.forwardHost(hostData.get(c.rows)!, xb.shape);
      continue;
    }
    const y = c.kind === 'fwd' ? await model.forward(xb) : await model.gradients(xb, objectiveFor({ kind: 'index', indices: new Int32Array(c.rows) }, new Int32Array(c.rows), 'bench'));
    await y.data();
    y.dispose();
  }
  return performance.now() - t0;
}

interface Row {
  model: string;
  method: string;
  msPerInput: number;
  evaluations: number;
  overhead: number;
}

const ONLY = process.env['BENCH_ONLY']; // e.g. image_cnn
if (ONLY === 'components') {
  await import('./components.js'); // attrib's component methods against PyTorch (bench/components.ts)
  process.exit(0);
}

async function benchModel(name: RefModel, plans: [MethodId, Record<string, unknown>, string?][], engine: 'tfjs' | 'onnx' = 'tfjs'): Promise<Row[]> {
  if (ONLY && ONLY !== name) return [];
  const base = engine === 'onnx' ? ((await fromOnnx(referencePath(name, 'model.onnx'))) as DifferentiableModel) : await loadReferenceModel(name);
  const x = examples(name);
  const n = x.shape[0]!;
  const target = reference(name).targets;
  const rows: Row[] = [];
  const inputs = new Map<number, tf.Tensor>();
  const hostData = new Map<number, Float32Array>(); // per model: row sizes differ
  for (const [id, options, inner] of plans) {
    const c = counting(base);
    const method = findMethod(id).create(c.model, inner ? { inner: inner as MethodId } : {});
    const once = async (): Promise<number> => {
      c.calls = [];
      const t0 = performance.now();
      const attr = await method.attribute(x, { target, batchSize: BATCH, ...options } as AttributeOptions);
      await attr.values.data();
      const ms = performance.now() - t0;
      evaluations = attr.diagnostics.evaluations;
      attr.dispose();
      return ms;
    };
    let evaluations = 0;
    await once(); // warm-up, both sides
    await replay(base, c.calls, inputs, hostData, x);
    // interleaved rounds: the method, then the same model calls on the bare model
    const methodMs: number[] = [];
    const bareMs: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      methodMs.push(await once());
      bareMs.push(await replay(base, c.calls, inputs, hostData, x));
    }
    const ms = median(methodMs);
    const overhead = ms / median(bareMs);
    rows.push({ model: engine === 'onnx' ? `${name}.onnx` : name, method: inner ? `${id}(${inner})` : id, msPerInput: ms / n, evaluations, overhead });
    process.stderr.write(`  ${name} ${id}: ${(ms / n).toFixed(2)} ms/input, overhead ${overhead.toFixed(2)}\n`);
  }
  for (const t of inputs.values()) t.dispose();
  x.dispose();
  base.dispose();
  return rows;
}

/**
 * Captum's times for the reference image CNN, 8 inputs in one call (warm calls, idle machine; the
 * reference README, "Timings"): the low and high ends of the measured range, in ms.
 */
const CAPTUM_8: Record<string, [number, number]> = {
  saliency: [1.3, 1.5],
  'integrated-gradients': [68, 83],
  occlusion: [32, 47],
  'feature-ablation': [7.2, 10],
};

interface CaptumRow {
  file: string;
  engine: string;
  method: string;
  firstMs: number;
  compileMs: number;
  ms: number;
  captumMs: [number, number];
  ratio: number;
  /** PyTorch's median for the same computation, timed alternately with ours (bench/captum_torch.py), when installed. */
  torchMs?: number;
  torchRatio?: number;
}

/**
 * The issue's goal, on the default engine: the reference image CNN, 8 inputs, one call per method,
 * from the `model.json` (loadModel's default engine: auto) and from the `.onnx` file. The first call
 * (compile + session) is reported apart; `ms` is the median of warm calls; `ratio` is against the
 * low end of Captum's range (the strict reading).
 */
async function captumComparison(): Promise<CaptumRow[]> {
  if (ONLY && ONLY !== 'captum' && ONLY !== 'image_cnn') return [];
  const x = examples('image_cnn');
  const target = reference('image_cnn').targets;
  const plans: [MethodId, Record<string, unknown>][] = [
    ['saliency', {}],
    ['integrated-gradients', { steps: 50, rule: 'gauss-legendre', batchSize: 400 }],
    ['occlusion', { window: [4, 4, 3], strides: [4, 4, 3], batchSize: 64 * 8 }],
    ['feature-ablation', { featureMask: gridMask([32, 32, 3], 8), batchSize: 16 * 8 }],
  ];
  const out: CaptumRow[] = [];
  const torch = await startTorchSide(Number(process.env['BENCH_TORCH_THREADS'] ?? 2));
  for (const file of ['model.json', 'model.onnx']) {
    // no on-disk cache: the first call shows the full compile
    const model = await loadModel(referencePath('image_cnn', file), { cacheDir: false });
    for (const [id, options] of plans) {
      const method = findMethod(id).create(model, {});
      const call = async () => {
        const t0 = performance.now();
        const attr = await method.attribute(x, { target, ...options } as AttributeOptions);
        await attr.values.data();
        const ms = performance.now() - t0;
        const d = attr.diagnostics;
        attr.dispose();
        return { ms, d };
      };
      const first = await call();
      // at least 15 warm calls and 300 ms of them: millisecond calls need many samples for a stable
      // median; with PyTorch present, each of our calls is followed by one of its calls
      const warm: number[] = [];
      const theirs: number[] = [];
      for (let spent = 0; warm.length < Math.max(REPEATS, 15) || spent < 300; ) {
        const { ms } = await call();
        warm.push(ms);
        spent += ms;
        if (torch) theirs.push(await torch.time(id));
      }
      const ms = median(warm);
      const captumMs = CAPTUM_8[id]!;
      const torchMs = torch ? median(theirs) : undefined;
      out.push({ file, engine: first.d.engine ?? '?', method: id, firstMs: first.ms, compileMs: first.d.compileMs ?? 0, ms, captumMs, ratio: ms / captumMs[0], ...(torchMs ? { torchMs, torchRatio: ms / torchMs } : {}) });
      process.stderr.write(`  captum ${file} ${id}: ${ms.toFixed(2)} ms (${(ms / captumMs[0]).toFixed(2)}× Captum${torchMs ? `, ${(ms / torchMs).toFixed(2)}× PyTorch's ${torchMs.toFixed(2)} ms` : ''})\n`);
    }
    model.dispose();
  }
  torch?.close();
  x.dispose();
  return out;
}

const backend = await setupBackend(process.env['BENCH_BACKEND'] ?? 'wasm', true);
const captum = await captumComparison();
const pairs = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
const blocks8 = gridMask([32, 32, 3], 8);
const bg = examples('image_cnn');
const rows: Row[] = [];
rows.push(
  ...(await benchModel('image_cnn', [
    ['saliency', {}],
    ['input-x-gradient', {}],
    ['integrated-gradients', { steps: 50, rule: 'gauss-legendre' }],
    ['noise-tunnel', { samples: 10, stdevs: 0.1, seed: 0 }, 'saliency'],
    ['gradient-shap', { samples: 20, stdevs: 0.05, seed: 0, baselines: bg }],
    ['expected-gradients', { samples: 20, seed: 0, baselines: bg }],
    ['occlusion', { window: [4, 4, 3], strides: [4, 4, 3] }],
    ['feature-ablation', { featureMask: blocks8 }],
    ['feature-permutation', { featureMask: blocks8, seed: 0 }],
    ['shapley-value-sampling', { featureMask: blocks8, samples: 5, seed: 0 }],
    ['kernel-shap', { featureMask: blocks8, samples: 200, seed: 0 }],
    ['lime', { featureMask: blocks8, samples: 200, seed: 0 }],
  ])),
);
// the same methods on ONNX Runtime: gradients through the compiled backward graph
rows.push(
  ...(await benchModel(
    'image_cnn',
    [
      ['saliency', {}],
      ['integrated-gradients', { steps: 50, rule: 'gauss-legendre', batchSize: 400 }],
      ['expected-gradients', { samples: 20, seed: 0, baselines: bg }],
      ['occlusion', { window: [4, 4, 3], strides: [4, 4, 3] }],
      ['kernel-shap', { featureMask: blocks8, samples: 200, seed: 0 }],
    ],
    'onnx',
  )),
);
rows.push(
  ...(await benchModel('tabular_mlp', [
    ['integrated-gradients', { steps: 50, rule: 'gauss-legendre' }],
    ['occlusion', { window: [1] }],
    ['feature-ablation', {}],
    ['shapley-values', { featureMask: pairs }],
    ['kernel-shap', { featureMask: pairs, samples: 200, seed: 0 }],
    ['lime', { featureMask: pairs, samples: 200, seed: 0 }],
  ])),
);
rows.push(...(await benchModel('text_cnn', [['feature-ablation', {}], ['kernel-shap', { samples: 200, seed: 0 }]])));
bg.dispose();

/**
 * Sobol vs RISE (issue 5): deletion AUC of the class probability (lower = more faithful) of each map on the reference CNN
 * through ONNX Runtime, the forward passes spent, and the wall time, for several budgets. Deletion
 * removes pixels (all channels) in 16 portions, replaced by 0, in each map's own order.
 */
async function sobolVsRise(): Promise<{ method: string; evaluations: number; deletionAuc: number; ms: number }[]> {
  if (ONLY && ONLY !== 'image_cnn') return [];
  const model = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
  const all = examples('image_cnn');
  const classes = reference('image_cnn').targets;
  const plans: [string, MethodId, Record<string, unknown>][] = [
    ['rise 500 masks (grid 8)', 'rise', { samples: 500, gridSize: 8, seed: 0 }],
    ['rise 2000 masks (grid 8)', 'rise', { samples: 2000, gridSize: 8, seed: 0 }],
    ['rise 4000 masks (grid 8)', 'rise', { samples: 4000, gridSize: 8, seed: 0 }],
    ['sobol grid 8, 8 designs', 'sobol', { gridSize: 8, designs: 8, seed: 0 }],
    ['sobol grid 8, 16 designs', 'sobol', { gridSize: 8, designs: 16, seed: 0 }],
    ['sobol grid 8, 32 designs', 'sobol', { gridSize: 8, designs: 32, seed: 0 }],
    ['rise 500 masks (grid 4)', 'rise', { samples: 500, gridSize: 4, seed: 0 }],
    ['sobol grid 4, 16 designs', 'sobol', { gridSize: 4, designs: 16, seed: 0 }],
    ['sobol grid 4, 32 designs', 'sobol', { gridSize: 4, designs: 32, seed: 0 }],
  ];
  const sums = plans.map(() => ({ evaluations: 0, auc: 0, ms: 0 }));
  for (let i = 0; i < classes.length; i++) {
    // the papers' deletion metric reads class probabilities: the target is softmax(F)_t, one image at a time
    const t = classes[i]!;
    const target = (y: tf.Tensor) => tf.reshape(tf.slice(tf.softmax(y), [0, t], [-1, 1]), [-1]);
    const x = tf.slice(all, i, 1);
    for (const [k, [, id, options]] of plans.entries()) {
      const t0 = performance.now();
      const attr = await findMethod(id).create(model).attribute(x, { target, batchSize: 256, ...options } as AttributeOptions);
      sums[k]!.ms += performance.now() - t0;
      const curve = await deletionCurve(model, x, attr.values, { target, steps: 16, featureMask: gridMask([32, 32, 3], 1) });
      sums[k]!.auc += curve.auc[0]!;
      sums[k]!.evaluations += attr.diagnostics.evaluations;
      attr.dispose();
    }
    x.dispose();
  }
  all.dispose();
  model.dispose();
  const n = classes.length;
  return plans.map(([label], k) => ({ method: label, evaluations: sums[k]!.evaluations / n, deletionAuc: sums[k]!.auc / n, ms: sums[k]!.ms / n }));
}
const gsa = await sobolVsRise();

/** LiMA: bidirectional vs naive greedy search on the ONNX CNN (25 regions), median of 3 interleaved runs, insertion AUC of both orders. */
async function limaSearches(): Promise<{ search: string; evaluations: number; ms: number; insertionAuc: number }[]> {
  if (ONLY && ONLY !== 'image_cnn') return [];
  const model = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
  const x = examples('image_cnn');
  const target = reference('image_cnn').targets;
  const times: Record<string, number[]> = { greedy: [], bidirectional: [] };
  const out: Record<string, { evaluations: number; insertionAuc: number }> = {};
  for (let r = 0; r < 3; r++) {
    for (const search of ['greedy', 'bidirectional'] as const) {
      const t0 = performance.now();
      const attr = await findMethod('lima').create(model).attribute(x, { target, gridSize: 5, search, batchSize: 256 } as AttributeOptions);
      times[search]!.push((performance.now() - t0) / x.shape[0]!);
      if (r === 0) {
        const curve = await insertionCurve(model, x, attr.values, { target, steps: 25, featureMask: gridMask([32, 32, 3], 1) });
        out[search] = { evaluations: attr.diagnostics.evaluations / x.shape[0]!, insertionAuc: curve.auc.reduce((a, b) => a + b, 0) / curve.auc.length };
      }
      attr.dispose();
    }
  }
  x.dispose();
  model.dispose();
  return (['greedy', 'bidirectional'] as const).map((s) => ({ search: s, evaluations: out[s]!.evaluations, ms: median(times[s]!), insertionAuc: out[s]!.insertionAuc }));
}
const lima = await limaSearches();
const engines = ONLY && ONLY !== 'engines' ? [] : await engineThroughput(Math.max(3, Math.floor(REPEATS / 2)));
const igTarget = ONLY && ONLY !== 'engines' ? [] : await igCalls(Math.max(3, Math.floor(REPEATS / 2)));

if (captum.length > 0) {
  console.log('Against Captum: reference image CNN, 8 inputs, one call (default engine; warm median; ratio to the low end of Captum\'s range)');
  console.log('| file | engine | method | first call ms (compile) | warm ms | Captum ms | ratio | PyTorch ms (alternated) | ratio to PyTorch |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of captum) {
    const torch = c.torchMs ? `${c.torchMs.toFixed(2)} | ${c.torchRatio!.toFixed(2)}×` : '– | –';
    console.log(`| ${c.file} | ${c.engine} | ${c.method} | ${c.firstMs.toFixed(1)} (${c.compileMs.toFixed(1)}) | ${c.ms.toFixed(2)} | ${c.captumMs[0]}–${c.captumMs[1]} | ${c.ratio.toFixed(2)}× | ${torch} |`);
  }
  console.log('');
}
const header = ['model', 'method', 'ms/input', 'evaluations', 'overhead'];
const cells = rows.map((r) => [r.model, r.method, r.msPerInput.toFixed(2), String(r.evaluations), r.overhead.toFixed(2)]);
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
console.log(`backend ${backend}, batchSize ${BATCH}, 8 inputs per call, median of ${REPEATS}`);
console.log(`| ${header.map((h, i) => h.padEnd(widths[i]!)).join(' | ')} |`);
console.log(`| ${widths.map((w, i) => (i < 2 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
for (const c of cells) console.log(`| ${c.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`);
if (gsa.length > 0) {
  console.log('\nSobol vs RISE on image_cnn.onnx (per input; deletion AUC of the class probability, lower is better)');
  console.log('| method | evaluations | deletion AUC | ms/input |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const g of gsa) console.log(`| ${g.method} | ${g.evaluations} | ${g.deletionAuc.toFixed(3)} | ${g.ms.toFixed(1)} |`);
}
if (lima.length > 0) {
  console.log('\nLiMA search on image_cnn.onnx (25 regions, per input; insertion AUC of the logit, higher is better)');
  console.log('| search | evaluations | ms/input | insertion AUC |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const l of lima) console.log(`| ${l.search} | ${l.evaluations} | ${l.ms.toFixed(1)} | ${l.insertionAuc.toFixed(2)} |`);
  console.log(`bidirectional / greedy: ${(lima[1]!.evaluations / lima[0]!.evaluations).toFixed(2)}× the evaluations, ${(lima[0]!.ms / lima[1]!.ms).toFixed(2)}× faster`);
}
if (engines.length > 0) {
  console.log('\nEngines, batch 64 (rows/s; gradient = forward + backward of the input gradient; backward = gradient − forward time)');
  console.log('| model | engine | forward rows/s | gradient rows/s | gradient / forward | backward / forward |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const e of engines) console.log(`| ${e.model} | ${e.engine} | ${e.forwardRowsPerS.toFixed(0)} | ${e.gradientRowsPerS?.toFixed(0) ?? '—'} | ${e.gradientOverForward?.toFixed(1) ?? '—'} | ${e.backwardOverForward?.toFixed(1) ?? '—'} |`);
  console.log('\nIntegrated Gradients, 50 steps, 8 inputs in one call (400 rows)');
  for (const c of igTarget) console.log(`| ${c.model} | ${c.ms.toFixed(0)} ms |`);
}
writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify({ backend, batchSize: BATCH, repeats: REPEATS, captum, rows, sobolVsRise: gsa, lima, engines, integratedGradientsCall: igTarget }, null, 2));
if (!ONLY) {
  console.log('\nComponent attribution against PyTorch (bench/components.ts)');
  await import('./components.js');
}
