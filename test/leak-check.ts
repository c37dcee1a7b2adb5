import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Runs `body` and asserts that `tf.memory().numTensors` is unchanged afterwards. */
export async function expectNoLeak(body: () => Promise<void>): Promise<void> {
  const before = tf.memory().numTensors;
  await body();
  expect(tf.memory().numTensors).toBe(before);
}
