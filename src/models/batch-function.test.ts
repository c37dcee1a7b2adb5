import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { fromBatchFunction } from './batch-function.js';
import { ShapleyValues } from '../attr/perturbation/shapley.js';
import { Lime } from '../attr/perturbation/lime.js';

beforeAll(() => useBackend('cpu'));

// A "remote" scorer that knows nothing of TF.js: y = 2·x0 − x1 + x0·x2, one output per row.
const remote = fromBatchFunction(async ({ data, shape }) => {
  const [n, d] = [shape[0]!, shape[1]!];
  await new Promise((r) => setTimeout(r, 1));
  return Array.from({ length: n }, (_, i) => [2 * data[i * d]! - data[i * d + 1]! + data[i * d]! * data[i * d + 2]!]);
});

it('explains an async black-box function: exact Shapley values split the interaction evenly', async () => {
  const x = tf.tensor2d([[1, 2, 3]]);
  const before = tf.memory().numTensors;
  const attr = await new ShapleyValues(remote).attribute(x, { target: 0 });
  // f(x) − f(0) = 2 − 2 + 3 = 3: x0 gets 2 + 3/2, x1 gets −2, x2 gets 3/2
  const v = Array.from(await attr.values.data());
  expect(v[0]).toBeCloseTo(3.5, 5);
  expect(v[1]).toBeCloseTo(-2, 5);
  expect(v[2]).toBeCloseTo(1.5, 5);
  attr.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});

it('accepts flat outputs and rejects a wrong number of rows', async () => {
  const flat = fromBatchFunction(async ({ shape }) => new Float32Array(shape[0]! * 2).fill(1));
  const y = await flat.forward(tf.zeros([3, 4]));
  expect(y.shape).toEqual([3, 2]);
  y.dispose();
  const wrong = fromBatchFunction(async () => [[1], [2]]);
  const x = tf.zeros([3, 4]);
  await expect(new Lime(wrong).attribute(x, { target: 0, samples: 10 })).rejects.toMatchObject({ code: 'shape_mismatch' });
  const failing = fromBatchFunction(async () => {
    throw new Error('HTTP 503');
  });
  await expect(new Lime(failing).attribute(x, { target: 0, samples: 10 })).rejects.toMatchObject({ code: 'backend_failure' });
  x.dispose();
});
