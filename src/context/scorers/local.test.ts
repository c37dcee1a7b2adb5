import { describe, expect, it } from 'vitest';
import { AttributionError } from '../../core/errors.js';
import type { TransformerConfig } from '../../models/transformer/config.js';
import { WordLevelTokenizer } from '../../models/transformer/word-level-tokenizer.js';
import type { TokenInput } from '../../models/transformer/tokens.js';
import { LocalLmApi, type LocalLanguageModel } from './local.js';

const WORDS = ['[UNK]', 'a', 'b', 'c', 'd', '.', ':'];
const tokenizer = WordLevelTokenizer.fromJson({ normalizer: null, pre_tokenizer: { type: 'Whitespace' }, model: { type: 'WordLevel', vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])), unk_token: '[UNK]' } });
const V = WORDS.length;
/** A bigram model: logits at a position depend on its token only: logit[next] = (7·cur + 3·next) mod 5. */
const bigram = (cur: number, next: number): number => (7 * cur + 3 * next) % 5;
const logProb = (cur: number, next: number): number => {
  let z = 0;
  for (let j = 0; j < V; j++) z += Math.exp(bigram(cur, j));
  return bigram(cur, next) - Math.log(z);
};

class Bigram implements LocalLanguageModel {
  readonly name = 'bigram';
  readonly config = { family: 'gpt2', vocabSize: V, maxPositions: 40 } as TransformerConfig;
  runs: number[][][] = [];
  async run(tokens: TokenInput) {
    const rows = (Array.isArray(tokens[0]) ? tokens : [tokens]) as number[][];
    this.runs.push(rows);
    const T = rows[0]!.length;
    const data = new Float32Array(rows.length * T * V);
    rows.forEach((r, b) => r.forEach((id, t) => { for (let j = 0; j < V; j++) data[(b * T + t) * V + j] = bigram(id, j); }));
    return { data, shape: [rows.length, T, V] };
  }
}

describe('LocalLmApi', () => {
  it('scores each response token by the logits before it, with offsets relative to the response; prompts arriving together share one run', async () => {
    const lm = new Bigram();
    const api = new LocalLmApi(lm, tokenizer, { batchSize: 4 });
    const prompts = ['a b :', 'a c d b :', 'c :', 'd d d d d d d d d d :', 'b :'];
    const got = await Promise.all(prompts.map((p) => api.responseTokens(p, ' c.')));
    expect(api.client.requests).toBe(2); // 4 + 1
    expect(lm.runs[0]!.length).toBe(4);
    expect(lm.runs[0]![0]!.length % 8).toBe(0); // right-padded to a multiple of 8
    for (const g of got) {
      expect(g.map((t) => [t.start, t.end])).toEqual([[1, 2], [2, 3]]);
      expect(g[0]!.logprob).toBeCloseTo(logProb(6, 3), 5); // ':' → 'c'
      expect(g[1]!.logprob).toBeCloseTo(logProb(3, 5), 5); // 'c' → '.'
    }
  });

  it('greedy generation, one forward run per token; the budget of forward runs is enforced', async () => {
    const api = new LocalLmApi(new Bigram(), tokenizer, { maxRuns: 2 });
    // argmax_j (7·cur + 3·j) mod 5 (first on ties): ':' (6) → 'd' (4) → 'b' (2) → '[UNK]' (0); one run per token
    await expect(api.generate('b :', 5)).rejects.toMatchObject({ code: 'budget_exceeded' });
    const free = new LocalLmApi(new Bigram(), tokenizer);
    expect(await free.generate('b :', 3)).toBe(' d b [UNK]');
  });

  it('bad input: a response that starts the text, a prompt over the positions, bad options', async () => {
    const api = new LocalLmApi(new Bigram(), tokenizer);
    await expect(api.responseTokens('', 'a b')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(api.responseTokens('a '.repeat(50), 'b')).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(() => new LocalLmApi(new Bigram(), tokenizer, { batchSize: 0 })).toThrow(AttributionError);
    expect(() => new LocalLmApi(new Bigram(), tokenizer, { padId: V })).toThrow(AttributionError);
  });
});
