// Writes the two 96-token tokenizer.json fixtures of test/fixtures/llmtext/ (README there): a GPT-2-style
// byte-level BPE and a LLaMA-2/sentencepiece-style BPE (Metaspace "▁", byte fallback, <s> prepended),
// both in the Hugging Face `tokenizers` JSON format, for the 96-token vocabularies of the transformer fixtures.
// Run: node scripts/make-tokenizer-fixtures.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const out = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'test', 'fixtures', 'llmtext');
const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const bpe = (vocab, merges, extra) => ({ type: 'BPE', dropout: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, ignore_merges: false, vocab, merges, ...extra });

function build(tokens, merges) {
  const vocab = {};
  for (const t of tokens) vocab[t] = Object.keys(vocab).length;
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  if (Object.keys(vocab).length !== 96) throw new Error(`vocab has ${Object.keys(vocab).length} tokens, want 96`);
  return vocab;
}

// GPT-2: <|endoftext|> (0), 'Ġ' (the space byte), printable ASCII but {|}~, then 4 merges.
const printable = [];
for (let c = 33; c <= 126; c++) if (!'{|}~'.includes(String.fromCharCode(c))) printable.push(String.fromCharCode(c));
const gptMerges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n']];
const gpt2 = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '<|endoftext|>')],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: bpe(build(['<|endoftext|>', 'Ġ', ...printable], gptMerges), gptMerges.map(([a, b]) => `${a} ${b}`), { unk_token: null, byte_fallback: false }),
};

// LLaMA-2 style: <s> (0, also the model's BOS), </s>, <unk>, four byte-fallback tokens, '▁', letters, digits, '.', ',', then merges.
const letters = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'];
const bytes = ['<0x0A>', '<0x21>', '<0x3F>', '<0x27>'];
const llamaMerges = [['▁', 't'], ['h', 'e'], ['▁t', 'he'], ['i', 'n'], ['▁', 'a'], ['e', 'r'], ['o', 'n'], ['▁', 'c'], ['a', 't'], ['▁c', 'at'], ['▁', 's'], ['▁', 'o'], ['▁o', 'n'], ['▁', 'm'], ['a', 'n'], ['▁t', 'h'], ['r', 'e'], ['▁', 'i'], ['▁i', 'n'], ['e', 'n'], ['▁', 'w'], ['o', 'r'], ['e', 's'], ['▁', 'H']];
const llama = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '<s>'), special(1, '</s>'), special(2, '<unk>')],
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null,
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] } },
  },
  decoder: {
    type: 'Sequence',
    decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
  },
  model: bpe(build(['<s>', '</s>', '<unk>', ...bytes, '▁', ...letters], llamaMerges), llamaMerges.map(([a, b]) => `${a} ${b}`), { unk_token: '<unk>', byte_fallback: true }),
};

for (const [name, json, config] of [
  ['gpt2', gpt2, { tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', add_prefix_space: false }],
  ['llama', llama, { tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, legacy: false }],
]) {
  mkdirSync(path.join(out, name), { recursive: true });
  writeFileSync(path.join(out, name, 'tokenizer.json'), `${JSON.stringify(json, null, 1)}\n`);
  writeFileSync(path.join(out, name, 'tokenizer_config.json'), `${JSON.stringify(config, null, 1)}\n`);
}
