import * as tf from '@tensorflow/tfjs-core';
import { chunks } from '../core/batching.js';
import type { Budget } from '../core/budget.js';
import { checkTarget, rangeIds, targetOutOfRange, type ResolvedTarget } from '../core/target.js';
import type { Target } from '../core/types.js';
import type { ModelAdapter } from './model.js';

// Target resolution that needs the model: 'auto' runs it, ranges are checked against its output shape.
// The pure parts (validation, objectives, picking values) stay in core/target.ts.

/**
 * Resolves `'auto'` with forward passes (counted by `run`), expands a single index to every row, and
 * checks indices against the model's output size on the first evaluation.
 */
export async function resolveTarget(
  model: ModelAdapter,
  x: tf.Tensor,
  target: Target,
  run: Budget,
  batchSize: number,
  fn: string,
): Promise<ResolvedTarget> {
  const n = x.shape[0]!;
  checkTarget(target, n, fn);
  if (typeof target === 'function') return { kind: 'function', fn: target };
  if (target === 'auto') {
    const indices = new Int32Array(n);
    for (const [s, e] of chunks(n, batchSize, run)) {
      await run.checkpoint(e - s, 'target');
      const xs = tf.slice(x, s, e - s);
      let out: tf.Tensor | undefined;
      let am: tf.Tensor | undefined;
      try {
        out = await model.forward(xs, { rows: rangeIds(s, e) });
        const o = out;
        am = tf.tidy(() => tf.argMax(tf.reshape(o, [e - s, -1]), 1));
        indices.set(await am.data(), s);
      } finally {
        // also when the forward pass fails: nothing of this chunk outlives the call
        tf.dispose([xs, ...(out ? [out] : []), ...(am ? [am] : [])]);
      }
    }
    return { kind: 'index', indices };
  }
  const indices = new Int32Array(n);
  if (typeof target === 'number') indices.fill(target);
  else indices.set(target as readonly number[]);
  return { kind: 'index', indices };
}

/**
 * Rejects index targets beyond the model's output size when the adapter knows it, before any model
 * call (an error raised inside a TF.js gradient leaves the tape's saved tensors behind).
 */
export function checkTargetRange(model: ModelAdapter, target: ResolvedTarget, fn: string): void {
  const shape = model.outputShape;
  if (target.kind !== 'index' || !shape || shape.slice(1).some((d) => d === null)) return;
  const outputs = (shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  for (const t of target.indices) {
    if (t >= outputs) {
      throw targetOutOfRange(t, outputs, fn);
    }
  }
}
