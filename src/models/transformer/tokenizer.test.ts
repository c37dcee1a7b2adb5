// tokenizer.json fixtures (test/fixtures/llmtext, made by scripts/make-tokenizer-fixtures.mjs): encode/decode round trips.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../test/reference.js';
import { loadTokenizer } from '../../io/load-tokenizer.js';
import { TextTokenizer } from './tokenizer.js';

const dir = (name: string): string => path.join(ROOT, 'test', 'fixtures', 'llmtext', name);
const read = (name: string, file: string): string => readFileSync(path.join(dir(name), file), 'utf8');

describe('TextTokenizer', () => {
  it('GPT-2 byte-level BPE: merges, byte-level spaces, exact round trip, no BOS', async () => {
    const t = await loadTokenizer(dir('gpt2'));
    expect(t.vocabSize).toBe(96);
    const ids = t.encode('the cat sat on the mat.');
    // 'Ġ t' then 'h e' then 'Ġt he': " the" is one token; the leading "the" (no space) is t|he
    expect(t.tokenStrings(ids).slice(0, 3)).toEqual(['t', 'he', 'Ġ']);
    expect(t.tokenStrings(ids)).toContain('Ġthe');
    expect(ids[0]).toBe(t.tokenId('t'));
    expect(t.decode(ids)).toBe('the cat sat on the mat.');
    expect(t.decode(t.encode('Hi there, in 2024!'))).toBe('Hi there, in 2024!');
    expect(t.encode('<|endoftext|>the')).toEqual([0, t.tokenId('t'), t.tokenId('he')]);
  });

  it('LLaMA/sentencepiece-style BPE: <s> prepended, ▁ spaces, byte fallback, <unk>', () => {
    const t = TextTokenizer.parse(read('llama', 'tokenizer.json'), read('llama', 'tokenizer_config.json'));
    const ids = t.encode('the cat sat on the mat.');
    expect(ids[0]).toBe(0);
    expect(t.tokenStrings(ids).slice(1, 3)).toEqual(['▁the', '▁cat']);
    expect(t.decode(ids, { skipSpecialTokens: true })).toBe('the cat sat on the mat.');
    expect(t.encode('cat', { addSpecialTokens: false })).toEqual([t.tokenId('▁cat')]);
    const odd = t.encode('Hi!\n?', { addSpecialTokens: false });
    expect(t.tokenStrings(odd)).toEqual(['▁H', 'i', '<0x21>', '<0x0A>', '<0x3F>']);
    expect(t.decode(odd)).toBe('Hi!\n?');
    expect(t.tokenStrings(t.encode('é', { addSpecialTokens: false }))).toEqual(['▁', '<unk>']);
  });

  it('refuses malformed files and texts with typed errors', async () => {
    expect(() => TextTokenizer.parse('{')).toThrow(expect.objectContaining({ code: 'invalid_file' }));
    expect(() => TextTokenizer.parse('[]')).toThrow(expect.objectContaining({ code: 'invalid_file' }));
    expect(() => TextTokenizer.parse('{"model": 3}')).toThrow(expect.objectContaining({ code: 'invalid_file', details: expect.objectContaining({ field: 'model' }) }));
    expect(() => TextTokenizer.parse('{"model": {"type": "Nope"}}')).toThrow(expect.objectContaining({ code: 'invalid_file' }));
    await expect(loadTokenizer(path.join(ROOT, 'test', 'fixtures', 'transformers', 'models', 'gpt2_induction'))).rejects.toMatchObject({ code: 'invalid_file' });
    const t = TextTokenizer.parse(read('gpt2', 'tokenizer.json'));
    expect(() => t.encode('')).toThrow(expect.objectContaining({ code: 'invalid_argument', details: { arg: 'text' } }));
    expect(() => t.encode('x'.repeat(2 ** 20 + 1), { arg: 'prompt' })).toThrow(expect.objectContaining({ code: 'invalid_argument', details: { arg: 'prompt' } }));
  });

  it('encodeWithOffsets: the characters of each token, recovered by decoding (byte level, sentencepiece, unknown and dropped characters)', async () => {
    const spans = (t: TextTokenizer, text: string) => t.encodeWithOffsets(text).map((o) => [t.tokenStrings([o.id])[0], text.slice(o.start, o.end)]);
    const gpt2 = await loadTokenizer(dir('gpt2'));
    const text = 'the cat sat on the mat.';
    expect(spans(gpt2, text).slice(0, 4)).toEqual([['t', 't'], ['he', 'he'], ['Ġ', ' '], ['c', 'c']]);
    expect(spans(gpt2, text)).toContainEqual(['Ġthe', ' the']);
    expect(gpt2.encodeWithOffsets(text).map((o) => text.slice(o.start, o.end)).join('')).toBe(text);
    // '\n' is not in this vocabulary (dropped): the next token starts after it
    expect(spans(gpt2, 'a\n\nb')).toEqual([['a', 'a'], ['b', 'b']]);
    expect(gpt2.encodeWithOffsets('a\n\nb')[1]).toMatchObject({ start: 3, end: 4 });
    const llama = await loadTokenizer(dir('llama'));
    // <s> takes no characters; '▁cat' takes the space before 'cat'; ':' is <unk> (decodes to nothing) and keeps its character; byte fallback
    expect(spans(llama, 'the cat: hi!\n')).toEqual([['<s>', ''], ['▁the', 'the'], ['▁cat', ' cat'], ['<unk>', ':'], ['▁', ' '], ['h', 'h'], ['i', 'i'], ['<0x21>', '!'], ['<0x0A>', '\n']]);
    expect(spans(llama, 'hi é').at(-1)).toEqual(['<unk>', 'é']);
  });

  it('encodeWithOffsets: the byte-fallback tokens of one character share its span', () => {
    const json = JSON.parse(read('llama', 'tokenizer.json')) as { model: { vocab: Record<string, number> } };
    json.model.vocab = { ...json.model.vocab, '<0xC3>': 96, '<0xA9>': 97 }; // é = C3 A9 in UTF-8
    const t = TextTokenizer.parse(JSON.stringify(json), read('llama', 'tokenizer_config.json'));
    const text = 'the é cat';
    const got = t.encodeWithOffsets(text).map((o) => [t.tokenStrings([o.id])[0], text.slice(o.start, o.end)]);
    expect(got).toEqual([['<s>', ''], ['▁the', 'the'], ['▁', ' '], ['<0xC3>', 'é'], ['<0xA9>', 'é'], ['▁cat', ' cat']]);
  });

  it('encodeWithOffsets refuses a tokenizer whose normalizer rewrites the text (capability_missing)', () => {
    const json = JSON.parse(read('llama', 'tokenizer.json')) as Record<string, unknown>;
    const lower = TextTokenizer.parse(JSON.stringify({ ...json, normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, json['normalizer']] } }), read('llama', 'tokenizer_config.json'));
    expect(lower.encodeWithOffsets('the cat').length).toBeGreaterThan(1); // nothing to rewrite
    expect(() => lower.encodeWithOffsets('THE CAT SAT ON THE MAT', 'prompt')).toThrow(expect.objectContaining({ code: 'capability_missing', details: expect.objectContaining({ arg: 'prompt' }) }));
  });
});
