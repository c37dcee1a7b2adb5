// Graph models never give a wrong gradient: on ONNX Runtime when every op converts (the same
// gradients whatever the TF.js backend), and on TF.js only through ops it differentiates correctly
// on the backend in force; otherwise a refusal naming the op before any work.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { relError, ROOT } from '../../../test/reference.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import { IntegratedGradients } from '../../attr/gradient/integrated-gradients.js';
import { Rng } from '../../core/random.js';
import { loadModel } from '../../io/load-model.js';
import { isDifferentiable, type DifferentiableModel, type HookedModel, type ModelAdapter } from '../model.js';

const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', 'graph', name, 'model.json');
const rng = new Rng(9);

afterAll(() => useBackend('cpu'));

/** Three rows of the CNN's input: random, constant (MaxPool ties in the interior), half constant. */
function cnnInput(): tf.Tensor {
  const n = 12 * 12 * 3;
  const random = Array.from({ length: n }, () => rng.normal());
  const flat = new Array(n).fill(0.5);
  const half = random.map((v, i) => (i < n / 2 ? 0.7 : v));
  return tf.tensor([...random, ...flat, ...half], [3, 12, 12, 3]);
}

/** Relative error of host values against a reference (no tensor left behind). */
async function relErr(values: number[], shape: number[], expected: number[]): Promise<number> {
  const t = tf.tensor(values, shape);
  try {
    return await relError(t, expected, shape);
  } finally {
    t.dispose();
  }
}

const gradientOf = async (model: ModelAdapter, x: tf.Tensor, target: number[]): Promise<{ values: number[]; shape: number[] }> => {
  if (!isDifferentiable(model)) throw new Error(`model ${model.name} is not differentiable: ${model.gradientsUnavailable}`);
  using sal = await new Saliency(model).attribute(x, { target, abs: false });
  return { values: Array.from(await sal.values.data()), shape: sal.values.shape };
};

describe('graph models on wasm and cpu', () => {
  it('fused-conv + MaxPool CNN: engine auto runs on ONNX Runtime and gives the gradients of TF.js on cpu (1e-4), ties included', async () => {
    await useBackend('cpu');
    const x = cnnInput();
    const target = [0, 1, 2];
    const onCpu = await loadModel(fixture('cnn'), { engine: 'tfjs' });
    expect(onCpu.engine).toBe('tfjs');
    expect(onCpu.capabilities.gradients).toBe(true);
    const ref = await gradientOf(onCpu, x, target);
    onCpu.dispose();
    for (const backend of ['wasm', 'cpu'] as const) {
      await useBackend(backend);
      const model = await loadModel(fixture('cnn'));
      expect(model.engine).toBe('onnx');
      expect((model as HookedModel).hookNames).toEqual(expect.arrayContaining(['conv1/Relu', 'pool1/MaxPool', 'conv2/BiasAdd', 'dw2/Relu6', 'Identity']));
      const before = tf.memory().numTensors;
      const g = await gradientOf(model, x, target);
      expect(tf.memory().numTensors).toBe(before);
      expect(await relErr(g.values, g.shape, ref.values)).toBeLessThan(1e-4);
      if (backend === 'wasm') {
        // IG-256's completeness gap, relative to F(x) − F(0), is small on every row
        using ig = await new IntegratedGradients(model as DifferentiableModel).attribute(x, { target, steps: 256 });
        expect(ig.diagnostics.engine).toBe('onnx');
        const out = await (model as DifferentiableModel).forward(x);
        const zero = tf.zerosLike(x);
        const base = await (model as DifferentiableModel).forward(zero);
        const [fx, fb] = [await out.array(), await base.array()] as number[][][];
        tf.dispose([out, zero, base]);
        const gaps = Array.from(ig.diagnostics.convergenceDelta ?? []).map((d, r) => Math.abs(d) / Math.abs(fx![r]![target[r]!]! - fb![r]![target[r]!]!));
        expect(gaps).toHaveLength(3);
        expect(Math.max(...gaps)).toBeLessThan(0.05);
      }
      model.dispose();
    }
    x.dispose();
  });

  it('TF.js on wasm routes MaxPool (ties), fused linear and depthwise convolutions through attrib kernels: the gradients of cpu (1e-4)', async () => {
    await useBackend('cpu');
    const x = cnnInput();
    const target = [3, 0, 1];
    const onCpu = await loadModel(fixture('cnn'), { engine: 'tfjs' });
    const ref = await gradientOf(onCpu, x, target);
    onCpu.dispose();
    await useBackend('wasm');
    const model = await loadModel(fixture('cnn'), { engine: 'tfjs' });
    expect(model.engine).toBe('tfjs');
    expect(isDifferentiable(model)).toBe(true);
    const before = tf.memory().numTensors;
    const g = await gradientOf(model, x, target);
    expect(tf.memory().numTensors).toBe(before);
    expect(await relErr(g.values, g.shape, ref.values)).toBeLessThan(1e-4);
    model.dispose();
    x.dispose();
  });

  it('an op neither exported nor differentiable (Einsum): refused by name before any work, on every backend', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await useBackend(backend);
      const model = await loadModel(fixture('einsum'));
      expect(model.engine).toBe('tfjs');
      expect(isDifferentiable(model)).toBe(false);
      expect(model.gradientsUnavailable).toMatch(/einsum' \(Einsum\): TF.js has no gradient/);
      expect(() => new Saliency(model as DifferentiableModel)).toThrow(expect.objectContaining({ code: 'capability_missing', message: expect.stringMatching(/Einsum/) }));
      const x = tf.ones([2, 4]);
      const before = tf.memory().numTensors;
      const err = await (model as DifferentiableModel).gradients(x, (o) => tf.sum(o, 1)).then(() => undefined, (e: unknown) => e as { code?: string; details?: Record<string, unknown> });
      expect(err?.code).toBe('capability_missing');
      expect(err?.details).toMatchObject({ node: 'einsum', op: 'Einsum', backend });
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      model.dispose();
      const onnx = await loadModel(fixture('einsum'), { engine: 'onnx' }).then(() => undefined, (e: unknown) => e as { code?: string; details?: Record<string, unknown> });
      expect(onnx?.details).toMatchObject({ node: 'einsum', op: 'Einsum' });
    }
  });

  it('the path check: what attrib routes and what it refuses', async () => {
    const { gradientBlocker, routedNodes } = await import('./graph-trust.js');
    const conv = { name: 'c', op: '_FusedConv2D', inputs: [], attrParams: { fusedOps: { value: ['biasadd'] } } };
    const relu = { ...conv, name: 'r', attrParams: { fusedOps: { value: ['biasadd', 'relu'] } } };
    const nchwPool = { name: 'p', op: 'MaxPool', inputs: [], attrParams: { dataFormat: { value: 'NCHW' } } };
    const slice = { name: 's', op: 'StridedSlice', inputs: [] };
    const dw = { name: 'd', op: 'DepthwiseConv2dNative', inputs: [] };
    await useBackend('wasm');
    // wasm: no Conv2DBackpropFilter (linear fused conv), no depthwise input gradient, MaxPool ties; StridedSlice has no gradient anywhere
    expect(routedNodes([conv, relu, slice, dw], 'wasm').map((n) => n.name)).toEqual(['c', 's', 'd']);
    expect(routedNodes([conv, relu, dw], 'cpu')).toEqual([]);
    expect(gradientBlocker([conv, relu, slice, dw], 'wasm')).toBeUndefined();
    expect(gradientBlocker([nchwPool], 'wasm')?.reason).toMatch(/last maximum/);
    expect(gradientBlocker([nchwPool], 'cpu')).toBeUndefined();
    expect(gradientBlocker([{ name: 'e', op: 'Einsum', inputs: [] }], 'cpu')?.reason).toMatch(/no gradient for Einsum/);
  });

  it('an unconvertible op: auto stays on TF.js (gradients right), onnx refuses naming it; numTensors unchanged', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const err = await loadModel(fixture('atan'), { engine: 'onnx' }).then(() => undefined, (e: unknown) => e as { code?: string; details?: Record<string, unknown>; message: string });
    expect(err?.code).toBe('capability_missing');
    expect(err?.details).toMatchObject({ node: 'atan', op: 'Atan' });
    expect(err?.message).toMatch(/Node 'atan' \(Atan\).*no ONNX export/);
    expect(tf.memory().numTensors).toBe(before);
    const model = await loadModel(fixture('atan'));
    expect(model.engine).toBe('tfjs');
    // d/dx of atan(x·W1)·W2 summed over outputs at x = 0: W1 · W2 · 1 (atan' = 1 at 0)
    const x = tf.zeros([1, 6]);
    const g = await gradientOf(model, x, [0]);
    const json = JSON.parse((await import('node:fs')).readFileSync(fixture('atan'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
    expect(json.weightsManifest[0]!.weights.map((w) => w.name)).toEqual(['dense/kernel', 'out/kernel']);
    const buf = (await import('node:fs')).readFileSync(fixture('atan').replace('model.json', 'weights.bin'));
    const bin = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const [w1, w2] = [bin.slice(0, 30), bin.slice(30, 45)];
    const expected = Array.from({ length: 6 }, (_, i) => Array.from({ length: 5 }, (_, j) => w1[i * 5 + j]! * w2[j * 3]!).reduce((a, b) => a + b, 0));
    expect(await relErr(g.values, g.shape, expected)).toBeLessThan(1e-5);
    x.dispose();
    model.dispose();
    // TF.js's MirrorPad gradient is wrong on every backend (and cpu's ResizeNearestNeighborGrad gives NaN): refused by name
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const ops = await loadModel(fixture('ops'), { engine: 'tfjs' });
      expect(ops.gradientsUnavailable).toMatch(/'mirror' \(MirrorPad\): TF.js's MirrorPad gradient drops the reflected copies/);
      ops.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
