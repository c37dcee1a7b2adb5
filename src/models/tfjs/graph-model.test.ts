import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { loadModel } from '../../io/load-model.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import { IntegratedGradients } from '../../attr/gradient/integrated-gradients.js';
import { isHooked, type DifferentiableModel, type HookedModel } from '../model.js';
import { LayerIntegratedGradients } from '../../attr/layer/layer-integrated-gradients.js';
import { GuidedBackprop } from '../../attr/backprop/guided-backprop.js';

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);

/** A hand-written TF.js graph model: y = relu(x · W), W = [[1, −1], [2, 0.5], [−3, 1]]. */
function writeGraphModel(): string {
  const dir = tempDir('attrib-graph-');
  const dim = (...d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'attrib test',
    convertedBy: 'hand',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim(-1, 3) } } },
        { name: 'w', op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dim(3, 2) } }, dtype: { type: 'DT_FLOAT' } } },
        { name: 'mm', op: 'MatMul', input: ['x', 'w'], attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } } },
        { name: 'y', op: 'Relu', input: ['mm'], attr: { T: { type: 'DT_FLOAT' } } },
      ],
      versions: { producer: 1 },
    },
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w', shape: [3, 2], dtype: 'float32' }] }],
  };
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(Float32Array.of(1, -1, 2, 0.5, -3, 1).buffer));
  return path.join(dir, 'model.json');
}

it('loads a graph model from disk and differentiates through it', async () => {
  const model = (await loadModel(writeGraphModel(), { engine: 'tfjs' })) as DifferentiableModel;
  expect(model.capabilities.gradients).toBe(true);
  const x = tf.tensor2d([[1, 1, 0.5]]); // x·W = [1.5, 0], relu → [1.5, 0]
  const before = tf.memory().numTensors;
  const y = await model.forward(x);
  expect(Array.from(await y.data())).toEqual([1.5, 0]);
  y.dispose();
  const sal = await new Saliency(model).attribute(x, { target: 0, abs: false });
  expect(Array.from(await sal.values.data())).toEqual([1, 2, -3]);
  sal.dispose();
  // on the linear piece the function is x·W[:,0]: IG = x ⊙ W[:,0] when the path stays in it
  const ig = await new IntegratedGradients(model).attribute(x, { target: 0, steps: 16 });
  expect(Array.from(await ig.values.data()).map((v) => Number(v.toFixed(5)))).toEqual([1, 2, -1.5]);
  ig.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
  model.dispose();
});

it('exposes graph nodes as hook points: cache, patch, function hooks, layer methods; refuses rules', async () => {
  const model = (await loadModel(writeGraphModel(), { engine: 'tfjs' })) as unknown as HookedModel;
  expect(isHooked(model)).toBe(true);
  expect(model.hookNames).toEqual(['mm', 'y']);
  expect(model.hookShape('mm')).toEqual([null, 2]);
  expect(model.hookClass('y')).toBe('Relu');
  const x = tf.tensor2d([
    [1, 1, 0.5],
    [0, 1, 1],
  ]); // x·W = [[1.5, 0], [−1, 1.5]]
  const before = tf.memory().numTensors;
  const { output, cache } = await model.runWithCache(x);
  expect(Array.from(await cache.get('mm').data())).toEqual([1.5, 0, -1, 1.5]);
  expect(Array.from(await output.data())).toEqual([1.5, 0, 0, 1.5]);
  output.dispose();
  cache.dispose();
  const patch = tf.tensor2d([
    [-2, 3],
    [4, -5],
  ]);
  const patched = await model.run(x, { patches: { mm: patch } });
  expect(Array.from(await patched.data())).toEqual([0, 3, 4, 0]);
  const hooked = await model.run(x, { hooks: { mm: (a) => tf.neg(a) } });
  expect(Array.from(await hooked.data())).toEqual([0, 0, 1, 0]);
  tf.dispose([patched, hooked, patch]);
  // IG in the space of mm: relu is linear on each piece the path stays in, so attr = mm ⊙ 1[mm > 0] for the target
  using lig = await new LayerIntegratedGradients(model, { layer: 'mm' }).attribute(x, { target: [0, 1], steps: 8 });
  expect(Array.from(await lig.values.data()).map((v) => +v.toFixed(5))).toEqual([1.5, 0, 0, 1.5]);
  expect(tf.memory().numTensors).toBe(before + 1); // lig's values
  expect(() => new GuidedBackprop(model)).toThrow(/graph model.*layers format/);
  expect(() => model.atLayer('nope')).toThrow(expect.objectContaining({ code: 'unknown_hook' }));
  x.dispose();
  model.dispose();
});

it('a failed gradient through a graph model (throwing target, wrong objective shape, patched layer view) leaves numTensors unchanged', async () => {
  const model = (await loadModel(writeGraphModel(), { engine: 'tfjs' })) as DifferentiableModel & HookedModel;
  const x = tf.tensor2d([
    [1, 1, 0.5],
    [0.2, -1, 2],
  ]);
  const before = tf.memory().numTensors;
  const throwing = () => {
    throw new SyntaxError('user code');
  };
  for (const method of [new Saliency(model), new IntegratedGradients(model)]) {
    const e1 = await method.attribute(x, { target: throwing, steps: 8 } as never).then(() => undefined, (e: unknown) => e as { code?: string; cause?: unknown });
    expect(e1?.code).toBe('invalid_argument');
    expect(e1?.cause).toBeInstanceOf(SyntaxError);
    const e2 = await method.attribute(x, { target: (o: tf.Tensor) => tf.reshape(o, [-1]), steps: 8 } as never).then(() => undefined, (e: unknown) => e as { code?: string });
    expect(e2?.code).toBe('shape_mismatch');
  }
  const e3 = await new LayerIntegratedGradients(model, { layer: 'mm' }).attribute(x, { target: throwing, steps: 4 } as never).then(() => undefined, (e: unknown) => e as { code?: string });
  expect(e3?.code).toBe('invalid_argument');
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
  model.dispose();
});
