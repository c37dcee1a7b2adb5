// attrib with no server: load a TF.js model and an image from static files, run Integrated Gradients
// (32 steps) in the page and draw the heatmap on a canvas. Plain JavaScript: nothing to compile.
// ?model=URL of a model.json and ?image=URL of a PNG/JPEG override the demo image model and its sample.
import { attrib, tf, tfl, heatmapRgba, normalizeMap, reduceChannels, upscaleRgba } from '../../dist/browser/attrib.js';

const params = new URLSearchParams(location.search);
const MODEL = params.get('model') ?? '../../models/demo-image/model.json';
const IMAGE = params.get('image') ?? '../../models/demo-image/sample-0.png';
const facts = document.getElementById('facts');

/** A PNG or JPEG as RGB floats in [0, 1] (the exact bytes: no colour conversion). */
async function decode(url) {
  const blob = await (await fetch(url)).blob();
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const data = new Float32Array(bitmap.width * bitmap.height * 3);
  for (let p = 0; p < bitmap.width * bitmap.height; p++) for (let k = 0; k < 3; k++) data[p * 3 + k] = rgba[p * 4 + k] / 255;
  return { width: bitmap.width, height: bitmap.height, channels: 3, data };
}

async function run() {
  await tf.setBackend('cpu');
  const model = attrib.fromLayersModel(await tfl.loadLayersModel(MODEL));
  const [, height, width] = model.inputShape;
  document.getElementById('input').src = IMAGE;
  const image = attrib.preprocessImage(await decode(IMAGE), { height, width, layout: 'nhwc' });
  const before = tf.memory().numTensors; // the model's weights
  const x = tf.tensor(image.data, [...image.shape], 'float32');
  const t0 = performance.now();
  const result = await new attrib.IntegratedGradients(model).attribute(x, { target: 'auto', steps: 32 });
  const ms = performance.now() - t0;
  const values = await result.values.data();
  const map = reduceChannels(values, height, width, image.shape[3]);
  const f = Math.max(1, Math.floor(256 / width));
  const canvas = document.getElementById('heatmap');
  canvas.width = width * f;
  canvas.height = height * f;
  const rgba = upscaleRgba(heatmapRgba(normalizeMap(map), 'diverging'), width, height, f);
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), width * f, height * f), 0, 0);
  const target = result.diagnostics.targets?.[0];
  const gap = result.diagnostics.convergenceDelta?.[0];
  facts.textContent = `target ${target}, completeness gap ${gap?.toExponential(2)}, ${result.diagnostics.evaluations} evaluations in ${ms.toFixed(0)} ms on TF.js ${tf.getBackend()}`;
  const shape = result.values.shape;
  result.dispose();
  x.dispose();
  // for the browser test: the values, and the tensors left behind (none)
  window.attribResult = { values: Array.from(values), shape, target, gap, ms, leaked: tf.memory().numTensors - before };
  document.body.dataset.done = '1';
}

run().catch((e) => {
  facts.textContent = String(e?.message ?? e);
  facts.className = 'error';
  document.body.dataset.done = 'error';
});
