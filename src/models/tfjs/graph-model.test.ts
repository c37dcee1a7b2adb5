import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { loadModel } from '../../io/load-model.js';
import { Saliency } from '../../attr/gradient/saliency.js';
import { IntegratedGradients } from '../../attr/gradient/integrated-gradients.js';
import type { DifferentiableModel } from '../model.js';

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
  const model = (await loadModel(writeGraphModel())) as DifferentiableModel;
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
