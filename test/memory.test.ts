// Memory is bounded by batchSize, not by the amount of work: peak bytes during IG over 100 inputs.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from './backend.js';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import type { Objective } from '../src/core/types.js';

beforeAll(() => useBackend('cpu'));

const D = 2048;

/** A model that records the peak of tf.memory().numBytes whenever it is called. */
function watched() {
  const w = tf.randomNormal([D, 10], 0, 0.05, 'float32', 1);
  const base = fromFunction((x) => tf.relu(tf.matMul(x, w)));
  let peak = 0;
  const note = () => (peak = Math.max(peak, tf.memory().numBytes));
  return {
    model: {
      ...base,
      forward: async (x: tf.Tensor) => (note(), base.forward(x)),
      gradients: async (x: tf.Tensor, o: Objective) => {
        note();
        const g = await base.gradients(x, o);
        note();
        return g;
      },
    },
    peak: () => peak,
    dispose: () => w.dispose(),
  };
}

it('IG on 100 inputs with batchSize 16: peak memory independent of steps, within a fixed bound', async () => {
  const x = tf.randomUniform([100, D], 0, 1, 'float32', 2);
  const baseBytes = tf.memory().numBytes;
  const peaks: number[] = [];
  for (const steps of [8, 64]) {
    const m = watched();
    const before = tf.memory().numTensors;
    const attr = await new IntegratedGradients(m.model).attribute(x, { target: 3, steps, batchSize: 16 });
    attr.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    peaks.push(m.peak() - baseBytes);
  }
  const inputBytes = 100 * D * 4;
  const chunkBytes = 16 * D * 4;
  // resident: baseline, x − b, accumulator (3 × input); per chunk: points, gradients and temporaries
  const bound = 3 * inputBytes + 8 * chunkBytes + 100_000;
  for (const p of peaks) expect(p).toBeLessThan(bound);
  expect(peaks[1]! / peaks[0]!).toBeLessThan(1.1);
  x.dispose();
});
