// Graph models on their two engines: time per Saliency gradient row of the CNN graph fixture
// (test/fixtures/graph/cnn) on TF.js cpu versus ONNX Runtime (engine auto), measured in interleaved
// rounds; TF.js wasm through attrib's routed kernels (MaxPool, fused and depthwise convolutions);
// and IG-256's completeness gap per row on the ONNX engine.
// Run: nice -n 10 npx tsx bench/graph-engines.ts   (BENCH_REPEATS=7 rounds by default, BENCH_ROWS=32)
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setupBackend } from '../src/cli/backend.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { Rng } from '../src/core/random.js';
import { loadModel } from '../src/io/load-model.js';
import { isDifferentiable, type DifferentiableModel } from '../src/models/model.js';
import { ROOT } from '../test/reference.js';

const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 7);
const ROWS = Number(process.env['BENCH_ROWS'] ?? 32);
const file = path.join(ROOT, 'test', 'fixtures', 'graph', 'cnn', 'model.json');

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function main(): Promise<void> {
  await setupBackend('cpu', true);
  const [tfjs, onnx] = [await loadModel(file, { engine: 'tfjs' }), await loadModel(file, { engine: 'auto' })];
  if (!isDifferentiable(tfjs) || !isDifferentiable(onnx)) throw new Error('both engines must differentiate the CNN on cpu');
  const rng = new Rng(1);
  const x = tf.tensor(Array.from({ length: ROWS * 12 * 12 * 3 }, () => rng.normal()), [ROWS, 12, 12, 3]);
  const target = Array.from({ length: ROWS }, (_, i) => i % 4);
  const time = async (m: DifferentiableModel) => {
    const t0 = performance.now();
    using r = await new Saliency(m).attribute(x, { target });
    await r.values.data();
    return (performance.now() - t0) / ROWS;
  };
  await time(tfjs), await time(onnx); // warm-up (compiles the backward graph)
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < REPEATS; i++) a.push(await time(tfjs)), b.push(await time(onnx));
  console.log(`Saliency, ms per row (${ROWS} rows, median of ${REPEATS} interleaved rounds): TF.js cpu ${median(a).toFixed(3)}, ONNX ${median(b).toFixed(3)}, ratio ${(median(a) / median(b)).toFixed(2)}×`);
  await setupBackend('wasm', true);
  const wasm = await loadModel(file, { engine: 'tfjs' });
  if (!isDifferentiable(wasm)) throw new Error('the CNN must differentiate on wasm through the routed kernels');
  await time(wasm);
  const w: number[] = [];
  for (let i = 0; i < REPEATS; i++) w.push(await time(wasm)), b.push(await time(onnx));
  console.log(`Saliency, ms per row: TF.js wasm (routed kernels) ${median(w).toFixed(3)}, ONNX ${median(b.slice(REPEATS)).toFixed(3)}`);
  wasm.dispose();
  using ig = await new IntegratedGradients(onnx).attribute(x, { target, steps: 256 });
  const [out, base] = [await onnx.forward(x), await onnx.forward(tf.zerosLike(x))];
  const [fx, fb] = [(await out.array()) as number[][], (await base.array()) as number[][]];
  const gaps = Array.from(ig.diagnostics.convergenceDelta ?? []).map((d, r) => Math.abs(d) / Math.abs(fx[r]![target[r]!]! - fb[r]![target[r]!]!));
  console.log(`IG-256 completeness gap on ONNX: median ${(100 * median(gaps)).toFixed(3)} %, max ${(100 * Math.max(...gaps)).toFixed(3)} %`);
  tf.dispose([x, out, base]);
  tfjs.dispose();
  onnx.dispose();
}

await main();
