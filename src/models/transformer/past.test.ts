// Running with a cached prefix (prefill + runWithPast) against the full run: GPT-2 (learned
// positions), LLaMA with GQA (rotary), and a sliding window (Mistral) across the prefix boundary.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { fixtureModelDir, TRANSFORMER_MODELS, useTransformerFixture } from '../../../test/transformers.js';
import { loadTransformer } from '../../io/load-transformer.js';
import type { HookedTransformer } from './hooked-transformer.js';
import { PastKeyValues } from './past.js';

afterAll(() => removeTempDirs());

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Rows prefix + suffix_r run in full equal runWithPast(suffixes, prefill(prefix)) on the suffix positions. */
async function expectSameAsFull(model: HookedTransformer, prefix: number[], suffixes: number[][]): Promise<void> {
  const v = model.config.vocabSize;
  const T = suffixes[0]!.length;
  const past = await model.prefill(prefix);
  expect(past.length).toBe(prefix.length);
  const got = await model.runWithPast(suffixes, past);
  expect(got.shape).toEqual([suffixes.length, T, v]);
  const full = await model.run(suffixes.map((s) => [...prefix, ...s]));
  const L = prefix.length + T;
  for (let r = 0; r < suffixes.length; r++) {
    const want = full.data.subarray((r * L + prefix.length) * v, (r + 1) * L * v);
    expect(maxAbsDiff(got.data.subarray(r * T * v, (r + 1) * T * v), want)).toBeLessThan(1e-4);
  }
  // a shorter prefix sliced from the cache is the shorter prefix's cache
  const cut = Math.max(1, prefix.length - 3);
  const sliced = await model.runWithPast(suffixes.map((s) => [...prefix.slice(cut), ...s]), past.slice(cut));
  expect(maxAbsDiff(sliced.data, (await model.runWithPast(suffixes.map((s) => [...prefix.slice(cut), ...s]), await model.prefill(prefix.slice(0, cut)))).data)).toBeLessThan(1e-5);
}

describe.each(TRANSFORMER_MODELS)('%s with a past', (name) => {
  const fixture = useTransformerFixture(name);

  it('equals the full run on the continuation, for a batch of different continuations', async () => {
    const prefix = [3, 17, 5, 42, 8, 9, 11, 30, 2, 7, 19, 23];
    await expectSameAsFull(fixture.model(), prefix, [
      [4, 5, 6, 7, 8],
      [40, 41, 3, 17, 5],
      [1, 1, 1, 1, 1],
    ]);
  });

  it('bad input: a past from another shape, too many positions, and a slice out of range are invalid_argument', async () => {
    const model = fixture.model();
    const past = await model.prefill([1, 2, 3, 4]);
    const other = await model.prefill([1, 2, 3, 4, 5]);
    const wrong = new PastKeyValues(past.tokens, other.keys, past.values);
    await expect(model.runWithPast([5, 6], wrong)).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'past' } });
    await expect(model.runWithPast(new Array<number>(model.config.maxPositions - 3).fill(1), past)).rejects.toMatchObject({ code: 'invalid_argument', details: { pastLength: 4 } });
    expect(() => past.slice(5)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => past.slice(0)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('a sliding window across the prefix boundary (Mistral)', () => {
  it('keys of the prefix outside the window get no attention, as in the full run', async () => {
    const dir = path.join(tempDir(), 'mistral');
    mkdirSync(dir);
    const from = fixtureModelDir('llama_induction');
    copyFileSync(path.join(from, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const config = JSON.parse(readFileSync(path.join(from, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'mistral', sliding_window: 3 }));
    using model = await loadTransformer(dir, { sessionOptions: { intraOpNumThreads: 1 } });
    await expectSameAsFull(model, [9, 8, 7, 6, 5, 4, 3, 2], [
      [1, 2, 3, 4],
      [50, 60, 70, 80],
    ]);
  });
});
