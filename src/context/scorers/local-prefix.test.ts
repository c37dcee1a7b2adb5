// The local scorer's shared-prefix reuse (prefill once, run the suffixes) against recomputing every
// prompt in full, on the fact-lookup model (test/fixtures/context-local).
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FACT_LOOKUP_DIR, heldoutQuestions } from '../../../test/fact-lookup.js';
import { openLocalScorer } from '../../cli/commands/context-local.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import type { PastKeyValues } from '../../models/transformer/past.js';
import type { TokenInput } from '../../models/transformer/tokens.js';
import { DEFAULT_TEMPLATE, PromptBuilder } from '../prompt.js';
import { splitSources } from '../sources.js';
import { LocalLmApi, type LocalLanguageModel } from './local.js';

let opened: Awaited<ReturnType<typeof openLocalScorer>>;
beforeAll(async () => {
  opened = await openLocalScorer(FACT_LOOKUP_DIR, 32, undefined);
});
afterAll(() => opened.dispose());

/** The fixture's model, counting prefills. */
class Counting implements LocalLanguageModel {
  prefills: number[] = [];
  constructor(private readonly m: HookedTransformer) {}
  get name() {
    return this.m.name;
  }
  get config() {
    return this.m.config;
  }
  run(tokens: TokenInput) {
    return this.m.run(tokens);
  }
  prefill(tokens: readonly number[]) {
    this.prefills.push(tokens.length);
    return this.m.prefill(tokens);
  }
  runWithPast(tokens: TokenInput, past: PastKeyValues) {
    return this.m.runWithPast(tokens, past);
  }
}

describe('LocalLmApi with the shared prefix reused', () => {
  const qs = heldoutQuestions();
  // a long context whose first sentences no prompt ablates: the shared prefix
  const context = [qs[3]!.context, qs[4]!.context, qs[5]!.context].join(' ');
  const q = qs[5]!;
  const sources = splitSources(context, 'sentences');
  const pb = new PromptBuilder(context, sources, q.query, DEFAULT_TEMPLATE);
  const n = sources.length;
  const fixed = n - 4; // ablations only among the last four sentences
  const prompts = Array.from({ length: 16 }, (_, m) => pb.prompt(Uint8Array.from(sources, (_, i) => (i < fixed ? 1 : (m >> (i - fixed)) & 1))));

  it('gives the scores of full recomputation (1e-5), computing the prefix once for several batches', async () => {
    const model = opened.model;
    const lm = new Counting(model);
    const reuse = new LocalLmApi(lm, opened.tokenizer, { batchSize: 8 });
    const full = new LocalLmApi(model, opened.tokenizer, { batchSize: 8, sharedPrefix: 0 });
    const a = await Promise.all(prompts.map((p) => reuse.responseTokens(p, q.response)));
    const b = await Promise.all(prompts.map((p) => full.responseTokens(p, q.response)));
    expect(lm.prefills).toHaveLength(1); // two batches of 8, one prefix
    expect(lm.prefills[0]!).toBeGreaterThan(30);
    expect(reuse.client.requests).toBe(3);
    expect(full.client.requests).toBe(2);
    for (const [i, row] of a.entries()) {
      expect(row.map((t) => [t.start, t.end])).toEqual(b[i]!.map((t) => [t.start, t.end]));
      row.forEach((t, k) => expect(Math.abs(t.logprob - b[i]![k]!.logprob)).toBeLessThan(1e-5));
    }
    // a later batch with a shorter shared prefix reuses a slice of the cached one; one prompt alone is run in full
    const shorter = Array.from({ length: 8 }, (_, m) => pb.prompt(Uint8Array.from(sources, (_, i) => (i < fixed - 1 ? 1 : i === fixed - 1 ? 0 : (m >> (i - fixed)) & 1))));
    const c = await Promise.all(shorter.slice(0, 8).map((p) => reuse.responseTokens(p, q.response)));
    const d = await Promise.all(shorter.slice(0, 8).map((p) => full.responseTokens(p, q.response)));
    c.forEach((row, i) => row.forEach((t, k) => expect(Math.abs(t.logprob - d[i]![k]!.logprob)).toBeLessThan(1e-5)));
    await reuse.responseTokens(prompts[0]!, q.response);
    expect(lm.prefills).toHaveLength(1);
    expect(reuse.client.requests).toBe(5);
  });

  it('a batch whose shared prefix is shorter than sharedPrefix is run in full', async () => {
    const lm = new Counting(opened.model);
    const api = new LocalLmApi(lm, opened.tokenizer, { batchSize: 8 });
    const first = pb.prompt(Uint8Array.from(sources, (_, i) => (i === 0 ? 0 : 1)));
    await Promise.all([first, prompts[0]!].map((p) => api.responseTokens(p, q.response)));
    expect(lm.prefills).toHaveLength(0);
    expect(api.client.requests).toBe(1);
  });
});
