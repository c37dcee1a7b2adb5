import { describe, expect, it } from 'vitest';
import { AttributionError } from '../../core/errors.js';
import { WordLevelTokenizer } from './word-level-tokenizer.js';

const json = (over: Record<string, unknown> = {}, model: Record<string, unknown> = {}) => ({
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  model: { type: 'WordLevel', vocab: { '[UNK]': 0, Alice: 1, lives: 2, in: 3, Paris: 4, '.': 5, ':': 6 }, unk_token: '[UNK]', ...model },
  ...over,
});
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof AttributionError ? e.code : 'untyped';
  }
  return undefined;
};

describe('WordLevelTokenizer', () => {
  it('splits words and punctuation with character offsets; unknown words become [UNK]', () => {
    const t = WordLevelTokenizer.fromJson(json());
    const text = 'Alice  lives in Oslo.\nParis:';
    const toks = t.encode(text);
    expect(toks.map((x) => x.id)).toEqual([1, 2, 3, 0, 5, 4, 6]);
    expect(toks.map((x) => text.slice(x.start, x.end))).toEqual(['Alice', 'lives', 'in', 'Oslo', '.', 'Paris', ':']);
    expect(t.decode([1, 2, 3, 4, 5])).toBe('Alice lives in Paris.');
    expect(t.size).toBe(7);
  });

  it('WhitespaceSplit keeps punctuation on the word', () => {
    const t = WordLevelTokenizer.fromJson(json({ pre_tokenizer: { type: 'WhitespaceSplit' } }, { vocab: { '[UNK]': 0, 'Paris.': 1 } }));
    expect(t.encode(' Paris. x')).toEqual([{ id: 1, start: 1, end: 7 }, { id: 0, start: 8, end: 9 }]);
  });

  it('refuses other tokenizers (capability_missing) and malformed vocabularies (invalid_file)', () => {
    expect(code(() => WordLevelTokenizer.fromJson(json({}, { type: 'BPE' })))).toBe('capability_missing');
    expect(code(() => WordLevelTokenizer.fromJson(json({ pre_tokenizer: { type: 'ByteLevel' } })))).toBe('capability_missing');
    expect(code(() => WordLevelTokenizer.fromJson(json({ normalizer: { type: 'NFC' } })))).toBe('capability_missing');
    expect(code(() => WordLevelTokenizer.fromJson([]))).toBe('invalid_file');
    expect(code(() => WordLevelTokenizer.fromJson(json({}, { vocab: { a: 0, b: 0 } })))).toBe('invalid_file');
    expect(code(() => WordLevelTokenizer.fromJson(json({}, { vocab: { a: -1 } })))).toBe('invalid_file');
    expect(code(() => WordLevelTokenizer.fromJson(json({}, { vocab: {} })))).toBe('invalid_file');
    const noUnk = WordLevelTokenizer.fromJson(json({}, { unk_token: null }));
    expect(code(() => noUnk.encode('Bob'))).toBe('capability_missing');
  });
});
