// TF.js layers models exported to ONNX: same outputs, same gradients and the same hook names as the
// TF.js engine, on the reference models and on models that use every exported layer.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { examples, loadReferenceModel, reference, referencePath, relError, type RefModel } from '../../../../test/reference.js';
import { Rng } from '../../../core/random.js';
import type { DifferentiableModel, HookedModel } from '../../model.js';
import { fromLayersModel } from '../../tfjs/layers-model.js';
import { fromOnnx } from '../node.js';
import { exportLayersModel } from './from-layers.js';
import { loadModel } from '../../../io/load-model.js';
import { IntegratedGradients } from '../../../attr/gradient/integrated-gradients.js';
import { Saliency } from '../../../attr/gradient/saliency.js';
import { LayerGradCam } from '../../../attr/layer/cam.js';
import { LayerIntegratedGradients } from '../../../attr/layer/layer-integrated-gradients.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(11);
const randn = (shape: number[], scale = 1) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale), shape);

/** Gives every weight of the model random values (BatchNorm variances positive). */
function randomise(model: tfl.LayersModel): void {
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const fresh = ws.map((w, i) => {
      const name = layer.weights[i]!.name;
      const t = randn(w.shape, 0.4);
      if (/variance/.test(name)) return tf.tidy(() => tf.add(tf.abs(t), 0.5));
      if (/gamma/.test(name)) return tf.tidy(() => tf.add(t, 1));
      return t;
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

/** Forward outputs and input gradients of a random class objective agree between the two engines. */
async function expectSameModel(tfModel: DifferentiableModel, onnxModel: DifferentiableModel, x: tf.Tensor, tol = 1e-4) {
  const [a, b] = [await tfModel.forward(x), await onnxModel.forward(x)];
  expect(b.shape).toEqual(a.shape);
  expect(await relError(b, Array.from(await a.data()), a.shape)).toBeLessThan(1e-5);
  const c = randn(a.shape);
  const objective = (o: tf.Tensor) => tf.sum(tf.reshape(tf.mul(o, c), [o.shape[0]!, -1]), 1);
  const [ga, gb] = [await tfModel.gradients(x, objective), await onnxModel.gradients(x, objective)];
  expect(await relError(gb, Array.from(await ga.data()), ga.shape)).toBeLessThan(tol);
  tf.dispose([a, b, c, ga, gb]);
}

describe('exportLayersModel on the reference models', () => {
  it.each(['tabular_mlp', 'image_cnn'] as RefModel[])('%s: outputs, gradients, Captum parity and hook names as the TF.js engine', async (name) => {
    const tfModel = await loadReferenceModel(name);
    const before = tf.memory().numTensors;
    const bytes = exportLayersModel((tfModel as unknown as { model: tfl.LayersModel }).model);
    expect(tf.memory().numTensors).toBe(before);
    const onnxModel = (await fromOnnx(bytes, { name: `${name} (exported)` })) as DifferentiableModel & HookedModel;
    expect(onnxModel.capabilities.gradients).toBe(true);
    const x = examples(name);
    await expectSameModel(tfModel, onnxModel, x);
    const ref = reference(name);
    const ig = await new IntegratedGradients(onnxModel).attribute(x, { target: ref.targets, steps: 50, rule: 'trapezoid-captum' });
    expect(await relError(ig.values, ref.methods['integrated_gradients_riemann_trapezoid']!.attributions)).toBeLessThan(1e-4);
    ig.dispose();
    const tfHooks = (tfModel as unknown as HookedModel).hookNames;
    for (const h of tfHooks) expect(onnxModel.hookNames).toContain(h);
    if (name === 'image_cnn') {
      const layer = tfHooks.find((h: string) => /conv/i.test(h) && (tfModel as unknown as HookedModel).hookShape(h).length === 4)!;
      const [ca, cb] = [await new LayerGradCam(tfModel as never, { layer }).attribute(x, { target: ref.targets }), await new LayerGradCam(onnxModel as never, { layer }).attribute(x, { target: ref.targets })];
      expect(cb.values.shape).toEqual(ca.values.shape);
      expect(await relError(cb.values, Array.from(await ca.values.data()), ca.values.shape)).toBeLessThan(1e-4);
      tf.dispose([ca.values, cb.values]);
    }
    x.dispose();
    onnxModel.dispose();
    tfModel.dispose();
  });

  it('text_cnn: token ids become an int64 input; LIG on the embedding equals the TF.js engine', async () => {
    const tfModel = await loadReferenceModel('text_cnn');
    const onnxModel = (await fromOnnx(exportLayersModel((tfModel as unknown as { model: tfl.LayersModel }).model))) as DifferentiableModel & HookedModel;
    expect(onnxModel.capabilities.gradients).toBe(false);
    expect((onnxModel as { gradientsUnavailable?: string }).gradientsUnavailable).toMatch(/token ids/);
    const emb = (tfModel as unknown as { embeddingOfInput: string }).embeddingOfInput;
    const x = examples('text_cnn');
    const target = reference('text_cnn').targets;
    const [a, b] = [await new LayerIntegratedGradients(tfModel as never, { layer: emb }).attribute(x, { target, steps: 20 }), await new LayerIntegratedGradients(onnxModel as never, { layer: emb }).attribute(x, { target, steps: 20 })];
    expect(await relError(b.values, Array.from(await a.values.data()), a.values.shape)).toBeLessThan(1e-4);
    tf.dispose([a.values, b.values, x]);
    onnxModel.dispose();
    tfModel.dispose();
  });
});

describe('exportLayersModel on every exported layer', () => {
  // the TF.js side on cpu: wasm has no DepthwiseConv2dNativeBackpropInput (the ONNX engine does not need it)
  beforeAll(() => useBackend('cpu'));
  it('images: Conv2D (same, stride 2), DepthwiseConv2D, SeparableConv2D, BatchNorm, pooling, padding, merges, activations', async () => {
    const input = tfl.input({ shape: [9, 9, 3] });
    const c1 = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }).apply(input) as tfl.SymbolicTensor;
    const bn = tfl.layers.batchNormalization().apply(c1) as tfl.SymbolicTensor;
    const dw = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'swish' }).apply(bn) as tfl.SymbolicTensor;
    const sep = tfl.layers.separableConv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: 'elu' }).apply(bn) as tfl.SymbolicTensor;
    const add = tfl.layers.add().apply([dw, sep]) as tfl.SymbolicTensor;
    const mul = tfl.layers.multiply().apply([add, dw]) as tfl.SymbolicTensor;
    const pad = tfl.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(mul) as tfl.SymbolicTensor;
    const mp = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(pad) as tfl.SymbolicTensor;
    const ap = tfl.layers.averagePooling2d({ poolSize: 2 }).apply(mul) as tfl.SymbolicTensor;
    const g1 = tfl.layers.globalMaxPooling2d({}).apply(mp) as tfl.SymbolicTensor;
    const g2 = tfl.layers.globalAveragePooling2d({}).apply(ap) as tfl.SymbolicTensor;
    const flat = tfl.layers.flatten().apply(ap) as tfl.SymbolicTensor;
    const cat = tfl.layers.concatenate().apply([g1, g2, flat]) as tfl.SymbolicTensor;
    const d1 = tfl.layers.dense({ units: 8, activation: 'gelu' }).apply(cat) as tfl.SymbolicTensor;
    const ln = tfl.layers.layerNormalization().apply(d1) as tfl.SymbolicTensor;
    const d2 = tfl.layers.dense({ units: 8, activation: 'softplus' }).apply(ln) as tfl.SymbolicTensor;
    const avg = tfl.layers.average().apply([d2, ln, d1]) as tfl.SymbolicTensor;
    const drop = tfl.layers.dropout({ rate: 0.5 }).apply(avg) as tfl.SymbolicTensor;
    const lr = tfl.layers.leakyReLU({ alpha: 0.2 }).apply(drop) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(lr) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    randomise(model);
    const tfModel = fromLayersModel(model);
    const onnxModel = (await fromOnnx(exportLayersModel(model))) as DifferentiableModel;
    const x = randn([3, 9, 9, 3]);
    await expectSameModel(tfModel, onnxModel, x);
    x.dispose();
    onnxModel.dispose();
    model.dispose();
  });

  it('sequences: Conv1D (same, strided), pooling 1-D, Reshape, Permute, ReLU(max), ELU, Softmax, gelu_new, Activation', async () => {
    const input = tfl.input({ shape: [12, 4] });
    const c1 = tfl.layers.conv1d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(input) as tfl.SymbolicTensor;
    const c2 = tfl.layers.conv1d({ filters: 5, kernelSize: 2, strides: 2, activation: 'gelu_new' }).apply(c1) as tfl.SymbolicTensor;
    const mp = tfl.layers.maxPooling1d({ poolSize: 2 }).apply(c1) as tfl.SymbolicTensor;
    const ap = tfl.layers.averagePooling1d({ poolSize: 2 }).apply(c1) as tfl.SymbolicTensor;
    const cat = tfl.layers.concatenate({ axis: 1 }).apply([c2, mp, ap]) as tfl.SymbolicTensor; // [18, 5]
    const perm = tfl.layers.permute({ dims: [2, 1] }).apply(cat) as tfl.SymbolicTensor; // [5, 18]
    const relu = tfl.layers.reLU({ maxValue: 1.5 }).apply(perm) as tfl.SymbolicTensor;
    const elu = tfl.layers.elu({}).apply(relu) as tfl.SymbolicTensor;
    const g1 = tfl.layers.globalAveragePooling1d({}).apply(c1) as tfl.SymbolicTensor;
    const g2 = tfl.layers.globalMaxPooling1d({}).apply(c2) as tfl.SymbolicTensor;
    const rs = tfl.layers.reshape({ targetShape: [90] }).apply(elu) as tfl.SymbolicTensor;
    const cat2 = tfl.layers.concatenate().apply([rs, g1, g2]) as tfl.SymbolicTensor;
    const act = tfl.layers.activation({ activation: 'sigmoid' }).apply(cat2) as tfl.SymbolicTensor;
    const d = tfl.layers.dense({ units: 3 }).apply(act) as tfl.SymbolicTensor;
    const out = tfl.layers.softmax().apply(d) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    randomise(model);
    const tfModel = fromLayersModel(model);
    const onnxModel = (await fromOnnx(exportLayersModel(model))) as DifferentiableModel;
    const x = randn([2, 12, 4]);
    await expectSameModel(tfModel, onnxModel, x);
    x.dispose();
    onnxModel.dispose();
    model.dispose();
  });

  it('dilated convolutions: same outputs as TF.js, and gradients TF.js cannot take (checked by a directional difference)', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.conv1d({ inputShape: [10, 3], filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })],
    });
    randomise(model);
    const tfModel = fromLayersModel(model);
    const onnxModel = (await fromOnnx(exportLayersModel(model))) as DifferentiableModel;
    const x = randn([1, 10, 3]);
    const [a, b] = [await tfModel.forward(x), await onnxModel.forward(x)];
    expect(await relError(b, Array.from(await a.data()), a.shape)).toBeLessThan(1e-5);
    const objective = (o: tf.Tensor) => tf.sum(o, 1);
    const g = await onnxModel.gradients(x, objective);
    const v = randn([1, 10, 3]);
    const eps = 1e-2;
    const f = async (sign: number) => {
      const xs = tf.tidy(() => tf.add(x, tf.mul(v, sign * eps)));
      const y = await onnxModel.forward(xs);
      const t = tf.sum(y);
      const s = (await t.data())[0]!;
      t.dispose();
      tf.dispose([xs, y]);
      return s;
    };
    const fd = ((await f(1)) - (await f(-1))) / (2 * eps);
    const prod = tf.tidy(() => tf.sum(tf.mul(g, v)));
    const dot = (await prod.data())[0]!;
    prod.dispose();
    expect(Math.abs(dot - fd)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
    tf.dispose([a, b, g, v, x]);
    onnxModel.dispose();
    model.dispose();
  });

  it('names the layer it cannot write, and the activation', () => {
    const input = tfl.input({ shape: [4, 4, 2] });
    const up = tfl.layers.upSampling2d({ size: [2, 2] }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: up });
    expect(() => exportLayersModel(model)).toThrowError(expect.objectContaining({ code: 'capability_missing', message: expect.stringMatching(/UpSampling2D/) }));
    const seq = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'selu' })] });
    expect(() => exportLayersModel(seq)).toThrowError(/activation 'selu'/);
    model.dispose();
    seq.dispose();
  });
});

describe('loadModel engines', () => {
  it('onnx and auto move a layers model.json to ONNX Runtime; tfjs on an .onnx file and unknown engines are refused', async () => {
    const file = referencePath('tabular_mlp', 'model.json');
    for (const engine of ['onnx', 'auto'] as const) {
      const m = await loadModel(file, { engine });
      expect(m.constructor.name).toMatch(/Onnx/);
      expect(m.capabilities.gradients).toBe(true);
      m.dispose();
    }
    const t = await loadModel(file, { engine: 'tfjs' });
    expect(t).toBeInstanceOf((await import('../../tfjs/layers-model.js')).LayersModelAdapter);
    t.dispose();
    await expect(loadModel(referencePath('tabular_mlp', 'model.onnx'), { engine: 'tfjs' })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(loadModel(file, { engine: 'torch' as never })).rejects.toThrowError(/must be one of tfjs, onnx, auto/);
  });
});
