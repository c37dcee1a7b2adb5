import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { IntegratedGradients, KernelShap, gridMask, isDifferentiable } from '../src/index.js'; // 'attrib'
import { loadModel } from '../src/node.js'; // 'attrib/node'

export async function quickstart(modelPath = 'models/demo-image/model.json'): Promise<number[]> {
  await tf.setBackend('wasm');
  const model = await loadModel(modelPath); // TF.js model.json or .onnx
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 42); // [batch, H, W, C]

  if (isDifferentiable(model)) {
    using ig = await new IntegratedGradients(model).attribute(x, { target: 'auto', steps: 32 });
    console.log('IG', ig.values.shape, 'completeness gaps', ig.diagnostics.convergenceDelta);
  }
  const mask = gridMask([32, 32, 3], 8); // 16 blocks of 8×8 pixels
  using shap = await new KernelShap(model).attribute(x, { target: [0, 3], featureMask: mask, samples: 300, seed: 1 });
  console.log('KernelSHAP', shap.diagnostics.evaluations, 'model rows in', shap.diagnostics.elapsedMs, 'ms');
  // every element of a block carries the block's value: Σφ per row = (element sum) / (8·8·3) = F(x) − F(0)
  const sums = tf.tidy(() => tf.div(tf.sum(shap.values, [1, 2, 3]), 8 * 8 * 3));
  const phiSums = Array.from(await sums.data());
  sums.dispose();
  x.dispose();
  model.dispose();
  return phiSums;
}
