import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './src/cli/backend.js';
import { fromOnnx } from './src/models/onnx/node.js';
import { examples, referencePath } from './test/reference.js';
import { Saliency } from './src/attr/gradient/saliency.js';
await setupBackend('wasm', true);
let t0 = performance.now();
const m = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
console.log('load', performance.now() - t0);
const x = examples('image_cnn');
for (let i = 0; i < 4; i++) {
  t0 = performance.now();
  const r = await new Saliency(m as never).attribute(x, { target: 0 });
  await r.values.data();
  console.log('call', i, performance.now() - t0);
  r.dispose();
}
