import type * as tf from '@tensorflow/tfjs-core';

/**
 * Like `tf.tidy` but async-safe: tensors passed to `keep` are disposed when `body` settles, unless
 * they are the returned value. Synchronous maths inside `body` still goes in `tf.tidy`.
 */
export async function withScope<T>(body: (keep: <U extends tf.Tensor>(t: U) => U) => Promise<T>): Promise<T> {
  const owned = new Set<tf.Tensor>();
  const keep = <U extends tf.Tensor>(t: U): U => (owned.add(t), t);
  let result: T | undefined;
  try {
    result = await body(keep);
    return result;
  } finally {
    for (const t of owned) if ((t as unknown) !== result && !t.isDisposed) t.dispose();
  }
}

/** Disposes every tensor in `ts` that is not yet disposed. */
export function disposeAll(...ts: (tf.Tensor | undefined | null)[]): void {
  for (const t of ts) if (t && !t.isDisposed) t.dispose();
}
