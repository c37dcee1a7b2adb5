import { DEFAULT_BATCH_SIZE } from './types.js';
import { assertPositiveInt } from './assert.js';

/** Says how many rows the next model call may take, from the wall time the last ones took (see `Budget.nextChunk`). */
export interface Pacer {
  nextChunk(size: number): number;
}

/**
 * Half-open ranges [start, end) covering 0..total in pieces of at most `size`. With a `pacer` each
 * piece is sized when it is reached, so that one model call takes a bounded wall time and the abort
 * and progress checkpoints between calls come often (the ranges still cover 0..total in order).
 */
export function* chunks(total: number, size: number, pacer?: Pacer): Generator<readonly [number, number]> {
  for (let start = 0; start < total; ) {
    const end = Math.min(total, start + Math.max(1, Math.min(size, pacer ? pacer.nextChunk(size) : size)));
    yield [start, end] as const;
    start = end;
  }
}

/** The batch size in force, validated. */
export function resolveBatchSize(batchSize: number | undefined, fn: string): number {
  const b = batchSize ?? DEFAULT_BATCH_SIZE;
  assertPositiveInt(b, 'batchSize', fn);
  return b;
}
