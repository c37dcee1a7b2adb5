import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './src/cli/backend.js';
import { examples, loadReferenceModel, reference } from './test/reference.js';
import { findMethod } from './src/core/registry.js';
import { gridMask } from './src/attr/masks.js';
await setupBackend('wasm', true);
const m = await loadReferenceModel('image_cnn');
const x = examples('image_cnn');
let inModel = 0;
const wrapped: any = { name: 'w', inputShape: m.inputShape, outputShape: m.outputShape, capabilities: m.capabilities, dispose: () => {},
  forward: async (b: tf.Tensor) => { const t0 = performance.now(); const y = await m.forward(b); await y.data(); inModel += performance.now() - t0; return y; },
  gradients: async (b: tf.Tensor, o: any) => { const t0 = performance.now(); const y = await m.gradients(b, o); await y.data(); inModel += performance.now() - t0; return y; } };
const blocks8 = gridMask([32, 32, 3], 8);
for (const [id, opts, inner] of [['noise-tunnel', { samples: 10, stdevs: 0.1 }, 'saliency'], ['lime', { featureMask: blocks8, samples: 200 }], ['kernel-shap', { featureMask: blocks8, samples: 200 }], ['occlusion', { window: [4, 4, 3], strides: [4, 4, 3] }]] as const) {
  const meth = findMethod(id).create(wrapped, inner as any);
  for (let r = 0; r < 4; r++) {
    inModel = 0;
    const t0 = performance.now();
    const a = await meth.attribute(x, { target: reference('image_cnn').targets, batchSize: 128, ...opts } as any);
    await a.values.data(); a.dispose();
    if (r > 0) console.log(id, 'total', (performance.now() - t0).toFixed(1), 'in model', inModel.toFixed(1));
  }
}
