import { DEFAULT_BATCH_SIZE } from './types.js';
import { assertPositiveInt } from './assert.js';

/** Half-open ranges [start, end) covering 0..total in pieces of at most `size`. */
export function* chunks(total: number, size: number): Generator<readonly [number, number]> {
  for (let start = 0; start < total; start += size) yield [start, Math.min(total, start + size)] as const;
}

/** The batch size in force, validated. */
export function resolveBatchSize(batchSize: number | undefined, fn: string): number {
  const b = batchSize ?? DEFAULT_BATCH_SIZE;
  assertPositiveInt(b, 'batchSize', fn);
  return b;
}
