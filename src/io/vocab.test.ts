import { describe, expect, it } from 'vitest';
import { parseVocabulary, tokenize } from './vocab.js';

describe('vocabularies', () => {
  it('reads one token per line (id = line) and JSON {token: id}, finding PAD and UNK', () => {
    const lines = parseVocabulary('[PAD]\n[UNK]\nhello\nworld\n!\n', "'v.txt'");
    expect(lines.tokens).toEqual(['[PAD]', '[UNK]', 'hello', 'world', '!']);
    expect([lines.pad, lines.unk, lines.ids.get('world')]).toEqual([0, 1, 3]);
    const json = parseVocabulary('{"<pad>": 3, "<unk>": 0, "Hi": 1}', "'v.json'");
    expect([json.pad, json.unk, json.lowercase]).toEqual([3, 0, false]);
    expect(json.tokens).toEqual(['<unk>', 'Hi', '', '<pad>']);
  });

  it('tokenizes words and punctuation, lower-cases for a lower-case vocabulary, pads and cuts', () => {
    const v = parseVocabulary('<pad>\n<unk>\ngreat\nmovie\n,\n!\n', "'v'");
    const t = tokenize('Great movie, GREAT!', v, 8, 'text');
    expect(t.ids).toEqual([2, 3, 4, 2, 5, 0, 0, 0]);
    expect(t.labels).toEqual(['Great', 'movie', ',', 'GREAT', '!', '·', '·', '·']);
    expect(tokenize('great unseen movie movie', v, 3, 'text')).toMatchObject({ ids: [2, 1, 3], truncated: 1 });
  });

  it('rejects malformed files and unknown words without an UNK token', () => {
    expect(() => parseVocabulary('{"a": 1, "b": 1}', "'v'")).toThrow(/share id 1/);
    expect(() => parseVocabulary('{"a": 1.5}', "'v'")).toThrow(expect.objectContaining({ code: 'invalid_file' }));
    expect(() => parseVocabulary('{"a": ', "'v'")).toThrow(/not valid JSON/);
    expect(() => parseVocabulary('', "'v'")).toThrow(/empty/);
    const v = parseVocabulary('<pad>\ngood\n', "'v'");
    expect(() => tokenize('good bad', v, 4, 'line 1')).toThrow(/"bad" of line 1 is not in the vocabulary/);
  });
});
