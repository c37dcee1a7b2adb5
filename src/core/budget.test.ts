import { describe, expect, it } from 'vitest';
import { Budget, CHUNK_TARGET_MS, FIRST_CHUNK_ROWS } from './budget.js';

/** Two checkpoints `ms` apart after `rows` rows: the budget then knows a time per row. */
async function measured(fixedChunks: boolean, rows: number, ms: number): Promise<Budget> {
  const b = Budget.start({ fixedChunks }, { total: 1e6, fn: 'test', exact: false });
  await b.checkpoint(rows);
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    // busy: the rows "take" ms
  }
  await b.checkpoint(rows);
  return b;
}

describe('Budget.nextChunk', () => {
  it('paces calls by measured time by default, so chunk sizes depend on the machine', async () => {
    expect(Budget.start({}, { total: 1e6, fn: 'test', exact: false }).nextChunk(1e5)).toBe(FIRST_CHUNK_ROWS);
    const b = await measured(false, 100, 30); // ≥ 0.3 ms per row, halved at most by the smoothing with the next (short) sample
    expect(b.nextChunk(1e5)).toBeLessThanOrEqual(Math.floor(CHUNK_TARGET_MS / 0.15));
  });

  it('with fixedChunks gives the whole batch size whatever the timing (reproducible batches)', async () => {
    expect(Budget.start({ fixedChunks: true }, { total: 1e6, fn: 'test', exact: false }).nextChunk(1e5)).toBe(1e5);
    expect((await measured(true, 100, 30)).nextChunk(1e5)).toBe(1e5);
  });
});
