// Engines (issue 6): forward and forward+backward rows per second of one model on TF.js wasm, on the
// ONNX engine (compiled backward graph) and as a bare ORT forward, on the reference image CNN and a
// ResNet-style model; and the Integrated Gradients call the issue targets (50 steps, 8 inputs).
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../src/core/random.js';
import { objectiveFor } from '../src/core/target.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import type { DifferentiableModel } from '../src/models/model.js';
import { exportLayersModel } from '../src/models/onnx/export/from-layers.js';
import { fromOnnx } from '../src/models/onnx/node.js';
import { fromLayersModel } from '../src/models/tfjs/layers-model.js';
import { examples, loadReferenceModel, reference, referencePath } from '../test/reference.js';

export interface EngineRow {
  readonly model: string;
  readonly engine: string;
  readonly batch: number;
  /** Rows per second of the forward pass. */
  readonly forwardRowsPerS: number;
  /** Rows per second of forward + backward (input gradients). */
  readonly gradientRowsPerS?: number;
  /** (forward + backward time) / forward time. */
  readonly gradientOverForward?: number;
  /** Backward time alone ((forward + backward) − forward) / forward time. */
  readonly backwardOverForward?: number;
}

export interface IgCall {
  readonly model: string;
  readonly ms: number;
  readonly rows: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(repeats: number, body: () => Promise<void>): Promise<number> {
  await body(); // warm-up (the ONNX engine compiles its backward graph here)
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await body();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** A ResNet-style classifier on 64×64×3: stem, two residual stages (projection shortcut), GAP, Dense. */
export function resnetStyle(seed = 1): tfl.LayersModel {
  const rng = new Rng(seed);
  const input = tfl.input({ shape: [64, 64, 3] });
  const convBn = (x: tfl.SymbolicTensor, filters: number, strides: number, relu: boolean, kernelSize = 3) => {
    const c = tfl.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(x) as tfl.SymbolicTensor;
    const b = tfl.layers.batchNormalization().apply(c) as tfl.SymbolicTensor;
    return relu ? (tfl.layers.reLU().apply(b) as tfl.SymbolicTensor) : b;
  };
  const block = (x: tfl.SymbolicTensor, filters: number, strides: number) => {
    const y = convBn(convBn(x, filters, strides, true), filters, 1, false);
    const shortcut = strides === 1 && x.shape[3] === filters ? x : convBn(x, filters, strides, false, 1);
    return tfl.layers.reLU().apply(tfl.layers.add().apply([y, shortcut]) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
  };
  let x = convBn(input, 16, 1, true);
  x = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tfl.SymbolicTensor;
  x = block(block(x, 16, 1), 16, 1);
  x = block(block(x, 32, 2), 32, 1);
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10 }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out, name: 'resnet_style' });
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const fresh = ws.map((w, i) => {
      const name = layer.weights[i]!.name;
      const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1) || 1;
      const values = Array.from({ length: w.size }, () => (/variance/.test(name) ? 1 + Math.abs(rng.normal()) * 0.1 : /gamma/.test(name) ? 1 + rng.normal() * 0.1 : /beta|mean|bias/.test(name) ? rng.normal() * 0.05 : rng.normal() * Math.sqrt(2 / fanIn)));
      return tf.tensor(values, w.shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
  return model;
}

async function measure(label: string, engine: string, model: DifferentiableModel, x: tf.Tensor, repeats: number): Promise<EngineRow> {
  const n = x.shape[0]!;
  const objective = objectiveFor({ kind: 'index', indices: new Int32Array(n) }, new Int32Array(n), 'bench');
  const forward = async () => {
    const y = await model.forward(x);
    await y.data();
    y.dispose();
  };
  const gradient = async () => {
    const g = await model.gradients(x, objective);
    await g.data();
    g.dispose();
  };
  // forward and gradient calls in alternating blocks, so that a drift in the machine's speed (it is
  // shared) moves both medians alike; the first call of each block is not timed, because ORT's
  // threads of the other session may still be spinning (and stealing one of the two cores) then
  await gradient(); // the ONNX engine compiles its backward graph here
  const fwds: number[] = [];
  const grads: number[] = [];
  const rounds = 3;
  for (let r = 0; r < rounds; r++) {
    for (const [body, times] of [[forward, fwds], [gradient, grads]] as const) {
      await body();
      for (let k = 0; k < Math.ceil(repeats / rounds); k++) {
        const t0 = performance.now();
        await body();
        times.push(performance.now() - t0);
      }
    }
  }
  const [fwd, grad] = [median(fwds), median(grads)];
  return { model: label, engine, batch: n, forwardRowsPerS: (1000 * n) / fwd, gradientRowsPerS: (1000 * n) / grad, gradientOverForward: grad / fwd, backwardOverForward: (grad - fwd) / fwd };
}

/** The bare ORT forward of the same bytes (host arrays in and out): the ceiling for any engine. */
async function bareOrt(label: string, bytes: Uint8Array, x: tf.Tensor, repeats: number): Promise<EngineRow> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const data = (await x.data()) as Float32Array;
  const feed = { [session.inputNames[0]!]: new ort.Tensor('float32', data, x.shape) };
  const fwd = await timeIt(repeats, async () => void (await session.run(feed)));
  await session.release();
  return { model: label, engine: 'ORT forward (bare)', batch: x.shape[0]!, forwardRowsPerS: (1000 * x.shape[0]!) / fwd };
}

const randomBatch = (shape: number[], seed: number): tf.Tensor => {
  const rng = new Rng(seed);
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next()), shape);
};

/** Rows per second per engine on the reference CNN and the ResNet-style model, batch 64. */
export async function engineThroughput(repeats: number): Promise<EngineRow[]> {
  const rows: EngineRow[] = [];
  const cases: [string, () => Promise<{ tfModel: DifferentiableModel; bytes: Uint8Array; dispose: () => void }>, number[]][] = [
    [
      'image_cnn',
      async () => {
        const tfModel = await loadReferenceModel('image_cnn');
        return { tfModel, bytes: exportLayersModel((tfModel as unknown as { model: tfl.LayersModel }).model), dispose: () => tfModel.dispose() };
      },
      [64, 32, 32, 3],
    ],
    [
      'resnet_style (64×64)',
      async () => {
        const m = resnetStyle();
        return { tfModel: fromLayersModel(m), bytes: exportLayersModel(m), dispose: () => m.dispose() };
      },
      [64, 64, 64, 3],
    ],
  ];
  for (const [label, make, shape] of cases) {
    const { tfModel, bytes, dispose } = await make();
    const x = randomBatch(shape, 3);
    rows.push(await bareOrt(label, bytes, x, repeats));
    const onnxModel = (await fromOnnx(bytes, { name: label })) as DifferentiableModel;
    rows.push(await measure(label, 'ONNX engine (exported)', onnxModel, x, repeats));
    onnxModel.dispose();
    rows.push(await measure(label, `TF.js ${tf.getBackend()}`, tfModel, x, Math.max(3, Math.floor(repeats / 3))));
    x.dispose();
    dispose();
  }
  return rows;
}

/** Integrated Gradients, 50 steps, the 8 reference inputs in one call (400 path rows), on the ONNX engine. */
export async function igCalls(repeats: number): Promise<IgCall[]> {
  const out: IgCall[] = [];
  const x = examples('image_cnn');
  const target = reference('image_cnn').targets;
  const tfModel = await loadReferenceModel('image_cnn');
  const sources: [string, () => Promise<DifferentiableModel>][] = [
    ['image_cnn.onnx (PyTorch export)', async () => (await fromOnnx(referencePath('image_cnn', 'model.onnx'))) as DifferentiableModel],
    ['image_cnn model.json on the ONNX engine', async () => (await fromOnnx(exportLayersModel((tfModel as unknown as { model: tfl.LayersModel }).model))) as DifferentiableModel],
  ];
  for (const [label, load] of sources) {
    const model = await load();
    const ig = new IntegratedGradients(model);
    const ms = await timeIt(repeats, async () => {
      const a = await ig.attribute(x, { target, steps: 50, rule: 'trapezoid-captum', batchSize: 400 });
      a.dispose();
    });
    out.push({ model: label, ms, rows: 400 });
    model.dispose();
  }
  const ig = new IntegratedGradients(tfModel);
  const ms = await timeIt(Math.max(3, Math.floor(repeats / 3)), async () => {
    const a = await ig.attribute(x, { target, steps: 50, rule: 'trapezoid-captum', batchSize: 400 });
    a.dispose();
  });
  out.push({ model: `image_cnn model.json on TF.js ${tf.getBackend()}`, ms, rows: 400 });
  tfModel.dispose();
  x.dispose();
  return out;
}
