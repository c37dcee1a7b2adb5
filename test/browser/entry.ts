// Runs in Chromium: the library's public entry on TF.js (cpu backend) and onnxruntime-web.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-web';
import { FeatureAblation, IntegratedGradients, KernelShap, Saliency, exportLayersModel, fromLayersModel, gridMask } from '../../src/index.js';
import { fromOnnx } from '../../src/models/onnx/web.js';

interface JsonTensor {
  shape: number[];
  data: number[];
}
const get = async <T>(url: string): Promise<T> => (await fetch(url)).json() as Promise<T>;
const rel = (a: ArrayLike<number>, e: number[]): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.length; i++) (num = Math.max(num, Math.abs(a[i]! - e[i]!))), (den = Math.max(den, Math.abs(e[i]!)));
  return num / den;
};

async function layers(name: string) {
  const mj = await get<{ modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] }>(`/ref/models/${name}/model.json`);
  const weightData = await (await fetch(`/ref/models/${name}/weights.bin`)).arrayBuffer();
  return fromLayersModel(await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest[0]!.weights, weightData })));
}

async function run(): Promise<Record<string, number | string>> {
  await tf.setBackend('cpu');
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = 1;
  const out: Record<string, number | string> = { backend: tf.getBackend() };
  const tab = await get<{ targets: number[]; methods: Record<string, { attributions: JsonTensor }> }>('/ref/reference/tabular_mlp.json');
  const img = await get<{ targets: number[]; methods: Record<string, { attributions: JsonTensor }> }>('/ref/reference/image_cnn.json');
  const tabX = (await get<{ inputs: JsonTensor }>('/ref/models/tabular_mlp/examples.json')).inputs;
  const imgX = (await get<{ inputs: JsonTensor }>('/ref/models/image_cnn/examples.json')).inputs;
  const xt = tf.tensor(tabX.data, tabX.shape);
  const xi = tf.tensor(imgX.data, imgX.shape);
  const mlp = await layers('tabular_mlp');
  const cnn = await layers('image_cnn');
  const before = tf.memory().numTensors; // after the models' weights
  const ig = await new IntegratedGradients(mlp).attribute(xt, { target: tab.targets, steps: 50, rule: 'gauss-legendre' });
  out['tabular IG'] = rel(await ig.values.data(), tab.methods['integrated_gradients_gausslegendre']!.attributions.data);
  ig.dispose();
  const sal = await new Saliency(cnn).attribute(xi, { target: img.targets, abs: false });
  out['image saliency'] = rel(await sal.values.data(), img.methods['saliency_signed']!.attributions.data);
  sal.dispose();

  const onnxImage = await fromOnnx('/ref/models/image_cnn/model.onnx');
  const fa = await new FeatureAblation(onnxImage).attribute(xi, { target: img.targets, featureMask: gridMask([32, 32, 3], 8) });
  out['onnx-web image ablation'] = rel(await fa.values.data(), img.methods['feature_ablation_blocks8']!.attributions.data);
  fa.dispose();
  const onnxTab = await fromOnnx('/ref/models/tabular_mlp/model.onnx');
  const ks = await new KernelShap(onnxTab).attribute(xt, { target: 'auto', featureMask: [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], samples: 200 });
  out['onnx-web kernel-shap vs exact'] = rel(await ks.values.data(), tab.methods['shapley_values_exact']!.attributions.data);
  ks.dispose();
  // gradients on onnxruntime-web through the compiled backward graph
  const igOnnx = await new IntegratedGradients(onnxTab as never).attribute(xt, { target: tab.targets, steps: 50, rule: 'gauss-legendre' });
  out['onnx-web IG'] = rel(await igOnnx.values.data(), tab.methods['integrated_gradients_gausslegendre']!.attributions.data);
  igOnnx.dispose();
  // the page's own TF.js model exported and differentiated on onnxruntime-web (the fast engine in a browser)
  const exported = await fromOnnx(exportLayersModel(cnn));
  const igExported = await new IntegratedGradients(exported as never).attribute(xi, { target: img.targets, steps: 50, rule: 'gauss-legendre' });
  out['exported model IG on onnx-web'] = rel(await igExported.values.data(), img.methods['integrated_gradients_gausslegendre']!.attributions.data);
  igExported.dispose();
  exported.dispose();
  out['leaked tensors'] = tf.memory().numTensors - before;
  onnxImage.dispose();
  onnxTab.dispose();
  out['weights released'] = (mlp.dispose(), cnn.dispose(), tf.memory().numTensors === before - 14 ? 1 : 0);
  return out;
}

(globalThis as unknown as { runAttrib: typeof run }).runAttrib = run;
