// Trains the bundled demo models deterministically (TF.js cpu backend, seeded data and initialisers)
// and writes them to models/: `npm run train`. The outputs are committed; CI does not retrain.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE, TABULAR, TEXT, TEXT_VOCAB, imageDataset, tabularDataset, textDataset } from '../src/demo/tasks.js';
import { encodePng } from '../src/io/image.js';
import { imageRgba, upscaleRgba } from '../src/viz/heatmap.js';
import { tensorToJsonValue } from '../src/io/tensor-json.js';

const OUT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'models');

function saver(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts) => {
      mkdirSync(dir, { recursive: true });
      const weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
      writeFileSync(path.join(dir, 'weights.bin'), weights);
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'attrib scripts/train-demo-models.ts',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    },
  };
}

const writeTensor = (file: string, shape: number[], data: ArrayLike<number>, dtype: 'float32' | 'int32' = 'float32') =>
  writeFileSync(file, JSON.stringify(tensorToJsonValue({ shape, dtype, data: dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data) })));

/** Sample inputs (one per class), their ground-truth masks and a background set, beside each model. */
function writeSamples(): void {
  const { size: s, channels: c } = IMAGE;
  const imgs = imageDataset(4, 99);
  const dir = path.join(OUT, 'demo-image');
  writeTensor(path.join(dir, 'inputs.json'), [4, s, s, c], imgs.flatMap((e) => Array.from(e.pixels)));
  writeTensor(path.join(dir, 'relevant.json'), [4, s, s], imgs.flatMap((e) => Array.from(e.relevant)), 'int32');
  writeTensor(path.join(dir, 'labels.json'), [4], imgs.map((e) => e.label), 'int32');
  writeTensor(path.join(dir, 'background.json'), [16, s, s, c], imageDataset(16, 7).flatMap((e) => Array.from(e.pixels)));
  imgs.forEach((e, i) => writeFileSync(path.join(dir, `sample-${i}.png`), encodePng(upscaleRgba(imageRgba(e.pixels, s * s, c), s, s, 1), s, s)));
  const rows = tabularDataset(8, 99);
  const tdir = path.join(OUT, 'demo-tabular');
  writeTensor(path.join(tdir, 'inputs.json'), [8, TABULAR.features], rows.flatMap((e) => Array.from(e.x)));
  writeTensor(path.join(tdir, 'labels.json'), [8], rows.map((e) => e.label), 'int32');
  writeTensor(path.join(tdir, 'background.json'), [32, TABULAR.features], tabularDataset(32, 7).flatMap((e) => Array.from(e.x)));
}

const init = (seed: number) => tfl.initializers.glorotUniform({ seed });

async function accuracy(model: tfl.LayersModel, x: tf.Tensor, labels: number[]): Promise<number> {
  const pred = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1));
  const p = await pred.data();
  pred.dispose();
  return labels.filter((l, i) => p[i] === l).length / labels.length;
}

async function trainImage(): Promise<void> {
  const train = imageDataset(1200, 1);
  const test = imageDataset(400, 2);
  const { size: s, channels: c, classes } = IMAGE;
  const stack = (d: typeof train) => tf.tensor4d(Float32Array.from(d.flatMap((e) => Array.from(e.pixels))), [d.length, s, s, c]);
  const x = stack(train);
  const y = tf.cast(tf.oneHot(tf.tensor1d(train.map((e) => e.label), 'int32'), classes), 'float32');
  const model = tfl.sequential({
    name: 'demo_image_cnn',
    layers: [
      tfl.layers.conv2d({ name: 'conv1', trainable: false, inputShape: [s, s, c], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(11) }),
      tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tfl.layers.conv2d({ name: 'conv2', trainable: false, filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(12) }),
      tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ name: 'fc1', units: 64, activation: 'relu', kernelInitializer: init(13) }),
      tfl.layers.dense({ name: 'fc2', units: classes, kernelInitializer: init(14) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.003), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  await model.fit(x, y, { epochs: 30, batchSize: 32, shuffle: false, verbose: 0 });
  const xt = stack(test);
  const acc = await accuracy(model, xt, test.map((e) => e.label));
  console.log(`image CNN: held-out accuracy ${acc.toFixed(3)}`);
  await model.save(saver(path.join(OUT, 'demo-image')));
  tf.dispose([x, y, xt]);
}

async function trainTabular(): Promise<void> {
  const train = tabularDataset(4000, 3);
  const test = tabularDataset(1000, 4);
  const f = TABULAR.features;
  const stack = (d: typeof train) => tf.tensor2d(Float32Array.from(d.flatMap((e) => Array.from(e.x))), [d.length, f]);
  const x = stack(train);
  const y = tf.cast(tf.oneHot(tf.tensor1d(train.map((e) => e.label), 'int32'), TABULAR.classes), 'float32');
  const model = tfl.sequential({
    name: 'demo_tabular_mlp',
    layers: [
      tfl.layers.dense({ name: 'fc1', inputShape: [f], units: 32, activation: 'relu', kernelInitializer: init(21) }),
      tfl.layers.dense({ name: 'fc2', units: 16, activation: 'relu', kernelInitializer: init(22) }),
      tfl.layers.dense({ name: 'fc3', units: TABULAR.classes, kernelInitializer: init(23) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  await model.fit(x, y, { epochs: 40, batchSize: 64, shuffle: false, verbose: 0 });
  const xt = stack(test);
  const acc = await accuracy(model, xt, test.map((e) => e.label));
  console.log(`tabular MLP: held-out accuracy ${acc.toFixed(3)}`);
  await model.save(saver(path.join(OUT, 'demo-tabular')));
  tf.dispose([x, y, xt]);
}

/**
 * A text CNN (Embedding 16 → Conv1D 16, k 3 → global max → Dense 2) on the sentiment-word task.
 * Trained on the cpu backend: wasm lacks the Conv2DBackpropFilter kernel and its gather gradient
 * (the embedding's) is wrong.
 */
async function trainText(): Promise<void> {
  await tf.setBackend('cpu');
  const train = textDataset(3000, 5);
  const test = textDataset(1000, 6);
  const stack = (d: typeof train) => tf.tensor2d(d.flatMap((e) => e.ids), [d.length, TEXT.length], 'float32');
  const x = stack(train);
  const y = tf.cast(tf.oneHot(tf.tensor1d(train.map((e) => e.label), 'int32'), 2), 'float32');
  const model = tfl.sequential({
    name: 'demo_text_cnn',
    layers: [
      tfl.layers.embedding({ name: 'embedding', inputDim: TEXT_VOCAB.length, outputDim: 16, inputLength: TEXT.length, inputShape: [TEXT.length], embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: 31 }) }),
      tfl.layers.conv1d({ name: 'conv', filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(32) }),
      tfl.layers.globalMaxPooling1d({ name: 'global_max_pool' }),
      tfl.layers.dense({ name: 'fc', units: 2, kernelInitializer: init(33) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp) });
  await model.fit(x, y, { epochs: 12, batchSize: 64, shuffle: false, verbose: 0 });
  const xt = stack(test);
  const acc = await accuracy(model, xt, test.map((e) => e.label));
  console.log(`text CNN: held-out accuracy ${acc.toFixed(3)}`);
  const dir = path.join(OUT, 'demo-text');
  await model.save(saver(dir));
  writeFileSync(path.join(dir, 'vocab.txt'), TEXT_VOCAB.join('\n') + '\n');
  const samples = textDataset(6, 99);
  writeFileSync(path.join(dir, 'reviews.txt'), samples.map((e) => e.words.join(' ')).join('\n') + '\n');
  writeTensor(path.join(dir, 'inputs.json'), [samples.length, TEXT.length], samples.flatMap((e) => e.ids));
  writeTensor(path.join(dir, 'relevant.json'), [samples.length, TEXT.length], samples.flatMap((e) => Array.from(e.relevant)), 'int32');
  writeTensor(path.join(dir, 'labels.json'), [samples.length], samples.map((e) => e.label), 'int32');
  tf.dispose([x, y, xt]);
  await tf.setBackend('wasm');
}

// wasm in Node is single-threaded and deterministic (checked by training twice). It has no
// Conv2DBackpropFilter kernel, and the cpu backend needs many minutes for it, so the image CNN keeps
// its seeded random convolutions frozen (random features) and trains its dense head.
const which = process.argv[2] ?? 'all';
await tf.setBackend('wasm');
if (which === 'all' || which === 'tabular') await trainTabular();
if (which === 'all' || which === 'image') await trainImage();
if (which === 'all' || which === 'text') await trainText();
if (which !== 'text') writeSamples();
