// npm run bench: times every method on the reference models of ../shared/reference and prints, per
// method, ms per input, model evaluations, and the overhead ratio = method time ÷ (forward rows ×
// bare forward time per row + gradient rows × bare forward+backward time per row), the bare times
// measured at the same batch size. Writes bench/results.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '../src/cli/backend.js';
import { findMethod } from '../src/core/registry.js';
import type { AttributeOptions, MethodId, Objective } from '../src/core/types.js';
import type { DifferentiableModel } from '../src/models/model.js';
import { gridMask } from '../src/attr/masks.js';
import { objectiveFor } from '../src/core/target.js';
import { examples, loadReferenceModel, reference, ROOT, type RefModel } from '../test/reference.js';

const BATCH = 128;
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 5);

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
      gradients: (x, o) => (c.calls.push({ kind: 'grad', rows: x.shape[0]! }), inner.gradients(x, o)),
      dispose: () => inner.dispose(),
    },
  };
  return c;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(f: () => Promise<void>, repeats = REPEATS): Promise<number> {
  await f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** Bare times of one call of `b` rows: forward, and forward+backward. */
async function bareTimes(model: DifferentiableModel, x: tf.Tensor, b: number): Promise<{ fwd: number; grad: number }> {
  const reps = Math.ceil(b / x.shape[0]!);
  const xb = tf.tidy(() => tf.slice(tf.concat(Array.from({ length: reps }, () => x), 0), 0, b));
  const obj: Objective = objectiveFor({ kind: 'index', indices: new Int32Array(b) }, new Int32Array(b), 'bench');
  const fwd = await timeIt(async () => {
    const y = await model.forward(xb);
    await y.data();
    y.dispose();
  });
  if ((model as { embeddingOfInput?: string }).embeddingOfInput) {
    xb.dispose();
    return { fwd, grad: NaN };
  }
  const grad = await timeIt(async () => {
    const g = await model.gradients(xb, obj);
    await g.data();
    g.dispose();
  });
  xb.dispose();
  return { fwd, grad };
}

interface Row {
  model: RefModel;
  method: string;
  msPerInput: number;
  evaluations: number;
  overhead: number;
}

async function benchModel(name: RefModel, plans: [MethodId, Record<string, unknown>, string?][]): Promise<Row[]> {
  const base = await loadReferenceModel(name);
  const x = examples(name);
  const n = x.shape[0]!;
  const target = reference(name).targets;
  const rows: Row[] = [];
  const bare = new Map<number, { fwd: number; grad: number }>();
  const bareAt = async (b: number) => {
    if (!bare.has(b)) bare.set(b, await bareTimes(base, x, b));
    return bare.get(b)!;
  };
  for (const [id, options, inner] of plans) {
    const c = counting(base);
    const method = findMethod(id).create(c.model, inner as MethodId | undefined);
    let evaluations = 0;
    const ms = await timeIt(async () => {
      c.calls = [];
      const attr = await method.attribute(x, { target, batchSize: BATCH, ...options } as AttributeOptions);
      await attr.values.data();
      evaluations = attr.diagnostics.evaluations;
      attr.dispose();
    });
    // the same calls (kind and rows) made on the bare model
    let expected = 0;
    for (const call of c.calls) {
      const t = await bareAt(call.rows);
      expected += call.kind === 'fwd' ? t.fwd : t.grad;
    }
    rows.push({ model: name, method: inner ? `${id}(${inner})` : id, msPerInput: ms / n, evaluations, overhead: ms / expected });
    process.stderr.write(`  ${name} ${id}: ${(ms / n).toFixed(2)} ms/input, overhead ${(ms / expected).toFixed(2)}\n`);
  }
  x.dispose();
  base.dispose();
  return rows;
}

const backend = await setupBackend(process.env['BENCH_BACKEND'] ?? 'wasm', true);
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

const header = ['model', 'method', 'ms/input', 'evaluations', 'overhead'];
const cells = rows.map((r) => [r.model, r.method, r.msPerInput.toFixed(2), String(r.evaluations), r.overhead.toFixed(2)]);
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
console.log(`backend ${backend}, batchSize ${BATCH}, 8 inputs per call, median of ${REPEATS}`);
console.log(`| ${header.map((h, i) => h.padEnd(widths[i]!)).join(' | ')} |`);
console.log(`| ${widths.map((w, i) => (i < 2 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
for (const c of cells) console.log(`| ${c.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`);
writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify({ backend, batchSize: BATCH, repeats: REPEATS, rows }, null, 2));
