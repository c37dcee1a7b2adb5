import { preview } from '../core/preview.js';
import { FileFormatError, InvalidArgumentError } from '../core/errors.js';

/** A token vocabulary: id ↔ token, with the padding and unknown-token ids. */
export interface Vocabulary {
  /** Token of each id ('' for ids the file does not name). */
  readonly tokens: readonly string[];
  readonly ids: ReadonlyMap<string, number>;
  /** Id used to pad sequences: `[PAD]`, `<pad>` or `PAD` when present, else 0. */
  readonly pad: number;
  /** Id of unknown words: `[UNK]`, `<unk>` or `UNK` when present. */
  readonly unk?: number;
  /** True when no token has an upper-case letter: text is lower-cased before lookup. */
  readonly lowercase: boolean;
}

/** At most this many tokens (a 50k-token BPE vocabulary fits many times over). */
export const MAX_VOCABULARY = 2_000_000;

const PAD_NAMES = ['[PAD]', '<pad>', '<PAD>', 'PAD'];
const UNK_NAMES = ['[UNK]', '<unk>', '<UNK>', 'UNK'];

/**
 * Parses a vocabulary: a JSON object `{ "token": id, … }` (ids non-negative integers, no two tokens
 * with one id), or plain text with one token per line (id = line number, from 0).
 * @throws {FileFormatError} `invalid_file` on malformed or oversized content.
 */
export function parseVocabulary(text: string, source: string): Vocabulary {
  const trimmed = text.trimStart();
  const byId: string[] = [];
  const ids = new Map<string, number>();
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new FileFormatError(`Vocabulary ${source} is not valid JSON: ${(e as Error).message}`, { source }, e);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new FileFormatError(`Vocabulary ${source} must be a JSON object {"token": id}`, { source });
    const entries = Object.entries(obj as Record<string, unknown>);
    if (entries.length > MAX_VOCABULARY) throw new FileFormatError(`Vocabulary ${source} has ${entries.length} tokens; at most ${MAX_VOCABULARY} are read`, { source });
    for (const [token, id] of entries) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_VOCABULARY) {
        throw new FileFormatError(`Vocabulary ${source}: token ${preview(token)} has id ${preview(id)}; ids must be integers in [0, ${MAX_VOCABULARY})`, { source, token });
      }
      if (byId[id] !== undefined) throw new FileFormatError(`Vocabulary ${source}: tokens ${preview(byId[id])} and ${preview(token)} share id ${id}`, { source, id });
      byId[id] = token;
      ids.set(token, id);
    }
  } else {
    const lines = text.split(/\r?\n/);
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length > MAX_VOCABULARY) throw new FileFormatError(`Vocabulary ${source} has ${lines.length} lines; at most ${MAX_VOCABULARY} are read`, { source });
    lines.forEach((token, id) => {
      byId[id] = token;
      if (!ids.has(token)) ids.set(token, id);
    });
  }
  if (ids.size === 0) throw new FileFormatError(`Vocabulary ${source} is empty`, { source });
  const tokens = Array.from({ length: byId.length }, (_, i) => byId[i] ?? '');
  const find = (names: string[]) => names.map((n) => ids.get(n)).find((v) => v !== undefined);
  const unk = find(UNK_NAMES);
  const lowercase = ![...ids.keys()].some((t) => t !== t.toLowerCase());
  return { tokens, ids, pad: find(PAD_NAMES) ?? 0, ...(unk === undefined ? {} : { unk }), lowercase };
}

/** One tokenized text: ids padded or cut to `length`, and the label of each position. */
export interface TokenizedText {
  readonly ids: number[];
  readonly labels: string[];
  /** Words beyond `length` that were cut. */
  readonly truncated: number;
}

/**
 * Splits text into words and punctuation marks, looks each up in the vocabulary (lower-cased when
 * the vocabulary is), and pads with the PAD id to `length`. Unknown words map to the UNK id, or
 * raise `invalid_argument` naming the word when the vocabulary has none.
 */
export function tokenize(text: string, vocab: Vocabulary, length: number, source: string): TokenizedText {
  const words = text.match(/[\p{L}\p{N}_']+|[^\s\p{L}\p{N}_']/gu) ?? [];
  const ids: number[] = [];
  const labels: string[] = [];
  for (const word of words.slice(0, length)) {
    const key = vocab.lowercase ? word.toLowerCase() : word;
    const id = vocab.ids.get(key) ?? vocab.unk;
    if (id === undefined) {
      throw new InvalidArgumentError(`Word ${preview(word)} of ${source} is not in the vocabulary, which has no unknown-word token ([UNK], <unk> or UNK)`, { arg: 'input', word });
    }
    ids.push(id);
    labels.push(word);
  }
  while (ids.length < length) {
    ids.push(vocab.pad);
    labels.push('·');
  }
  return { ids, labels, truncated: Math.max(0, words.length - length) };
}
