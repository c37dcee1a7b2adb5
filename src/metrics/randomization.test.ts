import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { ROOT } from '../../test/reference.js';
import path from 'node:path';
import { loadModel } from '../io/load-model.js';
import { LayersModelAdapter } from '../models/tfjs/layers-model.js';
import { Saliency } from '../attr/gradient/saliency.js';
import { FeatureAttribution } from '../core/result.js';
import type { AttributeOptions, Attributor } from '../core/types.js';
import { readTensorFile } from '../cli/inputs.js';
import { modelRandomization } from './randomization.js';

beforeAll(() => useBackend('wasm'));

/** An "explanation" that ignores the model: the input's own edges (|horizontal| + |vertical| differences). */
const edgeDetector: Attributor<AttributeOptions> = {
  id: 'random',
  cost: () => 0,
  attribute: async (x: tf.Tensor) => {
    const values = tf.tidy(() => {
      const dx = tf.abs(tf.sub(x, tf.pad(tf.slice(x, [0, 0, 1, 0], [-1, -1, -1, -1]), [[0, 0], [0, 0], [0, 1], [0, 0]])));
      const dy = tf.abs(tf.sub(x, tf.pad(tf.slice(x, [0, 1, 0, 0], [-1, -1, -1, -1]), [[0, 0], [0, 1], [0, 0], [0, 0]])));
      return tf.add(dx, dy);
    });
    return new FeatureAttribution('random', values, { evaluations: 0, elapsedMs: 0, truncated: false });
  },
};

it('passes Saliency, flags an edge detector that ignores the model, and restores the weights', async () => {
  const adapter = (await loadModel(path.join(ROOT, 'models', 'demo-image', 'model.json'), { engine: 'tfjs' })) as LayersModelAdapter;
  const t = await readTensorFile(path.join(ROOT, 'models', 'demo-image', 'inputs.json'), 'inputs');
  const x = tf.tensor(t.data, [...t.shape]);
  const before = await adapter.forward(x);
  const tensors = tf.memory().numTensors;
  const sal = await modelRandomization(adapter.model, new Saliency(adapter), x, { target: [0, 1, 2, 3], seed: 3 });
  expect(sal.steps.map((s) => s.layers.length)).toEqual([1, 2, 3, 4]); // fc2, fc1, conv2, conv1 (cumulative)
  expect(sal.finalCorrelation).toBeLessThan(0.5);
  expect(sal.insensitive).toBe(false);
  const edge = await modelRandomization(adapter.model, edgeDetector, x, { target: 0, seed: 3 });
  expect(edge.finalCorrelation).toBeCloseTo(1, 10);
  expect(edge.insensitive).toBe(true);
  const indep = await modelRandomization(adapter.model, new Saliency(adapter), x, { target: [0, 1, 2, 3], seed: 3, mode: 'independent' });
  expect(indep.steps.every((s) => s.layers.length === 1)).toBe(true);
  expect(tf.memory().numTensors).toBe(tensors);
  const after = await adapter.forward(x);
  expect(Array.from(await after.data())).toEqual(Array.from(await before.data())); // weights restored bit for bit
  tf.dispose([x, before, after]);
  adapter.dispose();
});
