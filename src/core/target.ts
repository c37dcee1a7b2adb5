import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from './errors.js';
import type { Objective, Target } from './types.js';

/** A target after `'auto'` has been resolved: indices per input row, or a custom objective. */
export type ResolvedTarget = { readonly kind: 'index'; readonly indices: Int32Array } | { readonly kind: 'function'; readonly fn: (o: tf.Tensor) => tf.Tensor };

/** Validates a target against the batch size and, where known, the number of outputs. */
export function checkTarget(target: Target | undefined, batch: number, fn: string): void {
  if (target === undefined) {
    throw new InvalidArgumentError(`Argument 'target' passed to '${fn}' is required: an output index, one index per row, 'auto', or a function`, {
      arg: 'target',
      fn,
    });
  }
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0) {
      throw new InvalidArgumentError(`Argument 'target' passed to '${fn}' must be a non-negative integer index, got ${target}`, {
        arg: 'target',
        fn,
        value: target,
      });
    }
  } else if (Array.isArray(target)) {
    if (target.length !== batch) {
      throw new ShapeMismatchError(`Argument 'target' passed to '${fn}' must have one index per row (${batch}), got ${target.length}`, {
        arg: 'target',
        fn,
        expected: batch,
        actual: target.length,
      });
    }
    for (const t of target) {
      if (!Number.isInteger(t) || t < 0) {
        throw new InvalidArgumentError(`Argument 'target' passed to '${fn}' must hold non-negative integer indices, got ${t}`, {
          arg: 'target',
          fn,
          value: t,
        });
      }
    }
  } else if (target !== 'auto' && typeof target !== 'function') {
    throw new InvalidArgumentError(`Argument 'target' passed to '${fn}' must be an index, an array of indices, 'auto' or a function, got ${JSON.stringify(target)}`, {
      arg: 'target',
      fn,
    });
  }
}

/**
 * The objective for a chunk of rows: `rowIds[i]` is the input row that chunk row i belongs to.
 * Index targets select with a one-hot product (differentiable on every backend, no gather gradient).
 */
export function objectiveFor(target: ResolvedTarget, rowIds: ArrayLike<number>, fn: string): Objective {
  if (target.kind === 'function') {
    return (output) => {
      let r: tf.Tensor;
      try {
        r = target.fn(output);
      } catch (e) {
        // user code threw: the caller's mistake to fix, with the original kept as the cause
        throw new InvalidArgumentError(`The target function passed to '${fn}' threw: ${(e as Error)?.message ?? String(e)}`, { arg: 'target', fn }, e);
      }
      if (!(r instanceof tf.Tensor)) {
        throw new InvalidArgumentError(`The target function passed to '${fn}' must return a tf.Tensor (one scalar per row), got ${typeof r}`, { arg: 'target', fn });
      }
      if (r.rank !== 1 || r.shape[0] !== output.shape[0]) {
        throw new ShapeMismatchError(`The target function passed to '${fn}' must return one scalar per row [${output.shape[0]}], got [${r.shape.join(', ')}]`, {
          arg: 'target',
          fn,
          actual: r.shape,
        });
      }
      return r;
    };
  }
  const targetIndices = Int32Array.from({ length: rowIds.length }, (_, i) => target.indices[rowIds[i]!]!);
  const select = (output: tf.Tensor): tf.Tensor => {
    const rows = output.shape[0]!;
    const flat = output.rank === 2 ? output : tf.reshape(output, [rows, -1]);
    const classes = flat.shape[1]!;
    const mask = new Float32Array(rows * classes);
    for (let i = 0; i < rows; i++) {
      const t = target.indices[rowIds[i]!]!;
      if (t >= classes) {
        throw targetOutOfRange(t, classes, fn);
      }
      mask[i * classes + t] = 1;
    }
    return tf.sum(tf.mul(flat, tf.tensor2d(mask, [rows, classes])), 1);
  };
  return Object.assign(select, { targetIndices });
}

/**
 * F_t per row from a forward output already on the host ([rows, ...] flattened): index targets are
 * read directly; function targets run on the device. `rowIds[i]` is the input row of output row i.
 */
export async function objectiveValues(output: tf.Tensor, target: ResolvedTarget, rowIds: ArrayLike<number>, fn: string): Promise<Float32Array> {
  const rows = output.shape[0]!;
  if (target.kind === 'function') {
    const obj = tf.tidy(() => objectiveFor(target, rowIds, fn)(output));
    const v = (await obj.data()) as Float32Array;
    obj.dispose();
    return v;
  }
  return pickTargets({ data: (await output.data()) as Float32Array, shape: output.shape }, target.indices, rowIds, fn);
}

/** Row i's value at its target index, from a host output [rows, ...]. */
export function pickTargets(output: { readonly data: ArrayLike<number>; readonly shape: readonly number[] }, indices: Int32Array, rowIds: ArrayLike<number>, fn: string): Float32Array {
  const rows = output.shape[0]!;
  const classes = output.data.length / rows;
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const t = indices[rowIds[i]!]!;
    if (t >= classes) throw targetOutOfRange(t, classes, fn);
    out[i] = output.data[i * classes + t]!;
  }
  return out;
}

/** The indices actually attributed, for diagnostics and the result JSON. */
export const targetList = (t: ResolvedTarget): number[] | undefined => (t.kind === 'index' ? Array.from(t.indices) : undefined);

/** Consecutive row ids: rows [start, end) of the input. */
export function rangeIds(start: number, end: number): Int32Array {
  const ids = new Int32Array(end - start);
  for (let i = 0; i < ids.length; i++) ids[i] = start + i;
  return ids;
}

export function targetOutOfRange(t: number, outputs: number, fn: string): InvalidArgumentError {
  return new InvalidArgumentError(`Argument 'target' passed to '${fn}' is out of range: index ${t} for a model with ${outputs} outputs`, {
    arg: 'target',
    fn,
    value: t,
    outputs,
  });
}
