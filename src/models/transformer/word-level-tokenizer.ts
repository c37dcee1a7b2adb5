// A word-level tokenizer read from a Hugging Face tokenizer.json (WordLevel model, Whitespace or
// WhitespaceSplit pre-tokenizer), with the character offsets of every token.
import { CapabilityError, FileFormatError } from '../../core/errors.js';

/** One token of a text: its id and its characters `[start, end)`. */
export interface OffsetToken {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

/** Most entries accepted in a tokenizer.json vocabulary. */
const MAX_VOCAB = 1_000_000;

const SPLITTERS = {
  // HF tokenizers' Whitespace pre-tokenizer: \w+|[^\w\s]+
  Whitespace: /[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]+/gu,
  WhitespaceSplit: /\S+/gu,
} as const;

/**
 * A Hugging Face `tokenizer.json` with a `WordLevel` model and a `Whitespace` or `WhitespaceSplit`
 * pre-tokenizer (no normalizer): text → ids with character offsets, and ids → text.
 *
 * Cost: one regular-expression pass over the text.
 */
export class WordLevelTokenizer {
  private readonly words: string[];

  private constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    private readonly unk: number | undefined,
    private readonly split: RegExp,
  ) {
    this.words = [];
    for (const [w, id] of vocab) this.words[id] = w;
  }

  /** Vocabulary size (largest id + 1). */
  get size(): number {
    return this.words.length;
  }

  /**
   * Parses a tokenizer.json (already JSON-decoded; the caller caps the file size).
   * @throws {FileFormatError} `invalid_file` for a malformed vocabulary (details.field).
   * @throws {CapabilityError} `capability_missing` for another model or pre-tokenizer type, or a normalizer.
   */
  static fromJson(json: unknown, source = 'tokenizer.json'): WordLevelTokenizer {
    const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
    const root = obj(json);
    const model = obj(root?.['model']);
    if (!root || !model) throw new FileFormatError(`${source} must be a JSON object with a 'model' object`, { source, field: 'model' });
    const pre = obj(root['pre_tokenizer']);
    const preType = pre?.['type'];
    if (model['type'] !== 'WordLevel' || !(preType === 'Whitespace' || preType === 'WhitespaceSplit') || (root['normalizer'] !== null && root['normalizer'] !== undefined)) {
      throw new CapabilityError(
        `${source} has model ${JSON.stringify(model['type'])}, pre-tokenizer ${JSON.stringify(preType)}${root['normalizer'] ? ' and a normalizer' : ''}; attrib reads only WordLevel tokenizers with a Whitespace or WhitespaceSplit pre-tokenizer and no normalizer (score BPE models through a server: --endpoint URL --api vllm|completions|llama.cpp)`,
        { source, field: 'model.type', modelType: model['type'], preTokenizer: preType },
      );
    }
    const v = obj(model['vocab']);
    if (!v) throw new FileFormatError(`${source}: 'model.vocab' must be an object of token → id`, { source, field: 'model.vocab' });
    const entries = Object.entries(v);
    if (entries.length === 0 || entries.length > MAX_VOCAB) throw new FileFormatError(`${source}: 'model.vocab' must hold 1 to ${MAX_VOCAB} tokens, has ${entries.length}`, { source, field: 'model.vocab' });
    const vocab = new Map<string, number>();
    const seen = new Set<number>();
    for (const [w, id] of entries) {
      if (!(Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) < MAX_VOCAB) || seen.has(id as number)) {
        throw new FileFormatError(`${source}: token ${JSON.stringify(w.slice(0, 40))} has id ${String(id)}; ids must be distinct integers in [0, ${MAX_VOCAB})`, { source, field: 'model.vocab', token: w });
      }
      seen.add(id as number);
      vocab.set(w, id as number);
    }
    const unkName = model['unk_token'];
    const unk = typeof unkName === 'string' ? vocab.get(unkName) : undefined;
    return new WordLevelTokenizer(vocab, unk, SPLITTERS[preType]);
  }

  /**
   * The tokens of `text` with their character offsets; a word outside the vocabulary becomes the
   * unknown token.
   * @throws {CapabilityError} `capability_missing` for a word outside the vocabulary when there is no unknown token.
   */
  encode(text: string): OffsetToken[] {
    const out: OffsetToken[] = [];
    for (const m of text.matchAll(new RegExp(this.split))) {
      const id = this.vocab.get(m[0]) ?? this.unk;
      if (id === undefined) throw new CapabilityError(`The word ${JSON.stringify(m[0].slice(0, 40))} is not in the tokenizer's vocabulary, which has no unk_token`, { word: m[0].slice(0, 40), start: m.index });
      out.push({ id, start: m.index, end: m.index + m[0].length });
    }
    return out;
  }

  /** The word of each id, joined by spaces (none before a punctuation-only word). */
  decode(ids: readonly number[]): string {
    let s = '';
    for (const id of ids) {
      const w = this.words[id] ?? '';
      s += s === '' || /^[^\p{L}\p{N}_]+$/u.test(w) ? w : ` ${w}`;
    }
    return s;
  }
}
