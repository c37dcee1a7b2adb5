import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from './errors.js';

/** Throws unless `t` has rank `want.length` and every non-null entry of `want` equals its dim. */
export function assertShape(t: tf.Tensor, want: readonly (number | null)[], arg: string, fn: string): void {
  const ok = t.rank === want.length && want.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    throw new ShapeMismatchError(
      `Argument '${arg}' passed to '${fn}' must have shape [${want.map((d) => d ?? '*').join(', ')}], got [${t.shape.join(', ')}]`,
      { arg, fn, expected: want, actual: t.shape },
    );
  }
}

export function assertPositiveInt(v: unknown, arg: string, fn: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a positive integer, got ${String(v)}`, {
      arg,
      fn,
      value: v,
    });
  }
}

export function assertNonNegative(v: unknown, arg: string, fn: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a finite number ≥ 0, got ${String(v)}`, {
      arg,
      fn,
      value: v,
    });
  }
}

export function assertOneOf<T extends string>(v: unknown, allowed: readonly T[], arg: string, fn: string): asserts v is T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(
      `Argument '${arg}' passed to '${fn}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v)}`,
      { arg, fn, value: v, allowed },
    );
  }
}

/** The input batch: a float tensor of rank ≥ 2 (batch first) with at least one row. */
export function assertBatch(x: unknown, arg: string, fn: string): asserts x is tf.Tensor {
  if (!(x instanceof tf.Tensor)) {
    throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a tf.Tensor, got ${typeof x}`, { arg, fn });
  }
  if (x.isDisposed) {
    throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' was already disposed`, { arg, fn });
  }
  if (x.rank < 2 || x.shape[0] === 0) {
    throw new ShapeMismatchError(
      `Argument '${arg}' passed to '${fn}' must be a batch [batch, ...features] with at least one row, got shape [${x.shape.join(', ')}]; add a batch dimension with tf.expandDims(x, 0)`,
      { arg, fn, actual: x.shape },
    );
  }
}

/** Rejects NaN and ±Infinity (downloads the data once). */
export async function assertFinite(x: tf.Tensor, arg: string, fn: string): Promise<void> {
  const data = await x.data();
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) {
      throw new InvalidArgumentError(
        `Argument '${arg}' passed to '${fn}' must contain only finite numbers, got ${v} at flat index ${i}`,
        { arg, fn, index: i, value: v },
      );
    }
  }
}

/** Most elements a method allocates on the host for one call's plan (2^28: 256 MiB of bytes, 1 GiB of float32). */
export const MAX_HOST_ELEMENTS = 2 ** 28;

/**
 * Refuses a host allocation of `elements` (e.g. samples × rows × features of a coalition matrix)
 * above {@link MAX_HOST_ELEMENTS}, before it is attempted.
 *
 * @throws {InvalidArgumentError} `invalid_argument` naming `arg`, with `details.elements` and `details.max`.
 */
export function assertHostAllocation(elements: number, arg: string, fn: string): void {
  if (!Number.isFinite(elements) || elements > MAX_HOST_ELEMENTS) {
    throw new InvalidArgumentError(
      `Argument '${arg}' passed to '${fn}' asks for ${String(elements)} values in memory; at most ${MAX_HOST_ELEMENTS} are allowed: use fewer samples, fewer features or fewer inputs`,
      { arg, fn, elements, max: MAX_HOST_ELEMENTS },
    );
  }
}

/** Size of one row: product of the non-batch dims. */
export const rowSize = (shape: readonly number[]): number => shape.slice(1).reduce((a, b) => a * b, 1);

/** An attribution must have the input's shape. */
export function assertSameShape(attribution: tf.Tensor, x: tf.Tensor, fn: string): void {
  if (attribution.shape.join(',') !== x.shape.join(',')) {
    throw new ShapeMismatchError(`Argument 'attribution' passed to '${fn}' must have the input's shape [${x.shape.join(', ')}], got [${attribution.shape.join(', ')}]`, {
      arg: 'attribution',
      fn,
      expected: x.shape,
      actual: attribution.shape,
    });
  }
}
