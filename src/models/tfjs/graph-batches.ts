// Graph-model calls split into row slices that fit in the backend's memory: a batch too large for
// wasm memory is run in pieces instead of exhausting it (which, unguarded, leaves the wasm backend
// dead for the rest of the process: see wasm-heap.ts). Slices are sized from an estimate of the bytes
// a row needs; a call that still fails with a memory error is retried with half the rows; a wasm
// trap marks the backend dead and later calls refuse with a typed error.
import * as tf from '@tensorflow/tfjs-core';
import { chunks } from '../../core/batching.js';
import { AttributionError } from '../../core/errors.js';
import type { Objective } from '../../core/types.js';
import { gradientOf } from './gradients.js';
import { isWasmTrap, onGuardedBackend } from './wasm-heap.js';

/**
 * Whether `e` (or its cause) is an allocation failure that splitting the batch can avoid: the wasm
 * heap guard's typed error (`details.outOfMemory`), or a JS allocation refused. Not a trap or abort
 * of the wasm module ("Aborted(OOM)", "memory access out of bounds"): that module is dead, and
 * running again on it cannot help (see `backendFailure`).
 */
export function isMemoryError(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    if (isWasmTrap(c)) return false;
    if (c instanceof AttributionError && c.details['outOfMemory'] === true) return true;
    if (c instanceof RangeError && /memory|allocat|buffer|array length/i.test(c.message)) return true;
    if (/out of memory|maximum memory|failed to allocate/i.test(c.message)) return true;
  }
  return false;
}

/** Rows of `rowBytes` each that fit in `budget` bytes (at least 1). */
export const rowsThatFit = (rowBytes: number, budget: number): number => Math.max(1, Math.floor(budget / Math.max(rowBytes, 1)));

/**
 * Runs `body(rows)` and, on a memory error with more than one row, again with half as many. On wasm
 * (`onGuardedBackend`): failed allocations throw, what a refused call left registered is freed, a
 * backend that trapped before refuses, and a trap marks it dead.
 */
function halving<T>(rows: number, total: number, body: (rows: number) => T): T {
  for (let r = Math.min(rows, total); ; r = Math.ceil(r / 2)) {
    try {
      return onGuardedBackend(() => body(r));
    } catch (e) {
      if (r <= 1 || !isMemoryError(e)) throw e;
    }
  }
}

/** f(x) computed `rows` rows at a time (rows along axis 0), concatenated. The caller owns the result. */
export function forwardByRows(x: tf.Tensor, rows: number, f: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  const n = x.shape[0] ?? 1;
  return halving(rows, n, (r) => {
    if (r >= n) return tf.tidy(() => f(x));
    const parts: tf.Tensor[] = [];
    try {
      for (const [s, e] of chunks(n, r)) parts.push(tf.tidy(() => f(tf.slice(x, s, e - s))));
      return tf.concat(parts, 0);
    } finally {
      tf.dispose(parts);
    }
  });
}

/**
 * ∂ Σ objective(f(x)) / ∂x computed `rows` rows at a time. The objective always sees the whole
 * batch's output (the other rows' outputs enter as constants, from a first tape-free pass), so
 * objectives that pick a target per row keep their row alignment; the gradient is exact because a
 * slice's rows do not depend on the other rows' inputs. The caller owns the result.
 */
export function gradientsByRows(x: tf.Tensor, rows: number, f: (x: tf.Tensor) => tf.Tensor, objective: Objective): tf.Tensor {
  const n = x.shape[0] ?? 1;
  return halving(rows, n, (r) => {
    if (r >= n) return gradientOf(f, x, objective);
    const out = forwardByRows(x, r, f);
    const parts: tf.Tensor[] = [];
    try {
      for (const [s, e] of chunks(n, r)) {
        const slice = tf.slice(x, s, e - s);
        try {
          const whole = (v: tf.Tensor) => {
            const pieces = [s > 0 ? tf.slice(out, 0, s) : undefined, f(v), e < n ? tf.slice(out, e, n - e) : undefined].filter((t): t is tf.Tensor => t !== undefined);
            return pieces.length === 1 ? pieces[0]! : tf.concat(pieces, 0);
          };
          parts.push(gradientOf(whole, slice, objective));
        } finally {
          slice.dispose();
        }
      }
      return tf.concat(parts, 0);
    } finally {
      tf.dispose([out, ...parts]);
    }
  });
}
