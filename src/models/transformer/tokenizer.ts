// Text ↔ token ids from a Hugging Face `tokenizer.json`, through @huggingface/tokenizers (pure JS, no dependencies).
import { Tokenizer } from '@huggingface/tokenizers';
import { CapabilityError, FileFormatError, InvalidArgumentError } from '../../core/errors.js';
import type { OffsetToken } from './word-level-tokenizer.js';

/** Longest `tokenizer.json` text parsed (bytes of UTF-16 text, roughly): 64 MiB. */
export const MAX_TOKENIZER_CHARS = 64 * 2 ** 20;
/** Longest text encoded at once. */
export const MAX_TEXT_CHARS = 1 << 20;

/** Most tokens one character may take (UTF-8 bytes, byte-fallback pieces) while offsets are recovered. */
const MAX_TOKENS_PER_CHAR = 8;
/** Most characters skipped at once (characters the tokenizer drops) while offsets are recovered. */
const MAX_SKIPPED_CHARS = 16;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A tokenizer read from `tokenizer.json` (+ optional `tokenizer_config.json`): BPE (GPT-2 byte level,
 * LLaMA/sentencepiece with byte fallback), WordPiece, Unigram, with their normalizers, pre-tokenizers,
 * post-processors (BOS templates) and decoders, as implemented by @huggingface/tokenizers.
 */
export class TextTokenizer {
  private constructor(
    private readonly inner: Tokenizer,
    /** Largest token id of the vocabulary and added tokens, plus one. */
    readonly vocabSize: number,
  ) {}

  /**
   * Parses the texts of `tokenizer.json` and (optionally) `tokenizer_config.json`.
   * @throws {FileFormatError} `invalid_file` for text over `MAX_TOKENIZER_CHARS`, invalid JSON, no
   *   `model` object, or a file the library cannot build (details.source, field; the cause kept).
   */
  static parse(tokenizerJson: string, configJson?: string, source = 'tokenizer.json'): TextTokenizer {
    const parseJson = (text: string, src: string): Record<string, unknown> => {
      if (text.length > MAX_TOKENIZER_CHARS) throw new FileFormatError(`${src} has ${text.length} characters; at most ${MAX_TOKENIZER_CHARS} are read`, { source: src, size: text.length });
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new FileFormatError(`${src} is not valid JSON: ${(e as Error).message}`, { source: src }, e);
      }
      if (!isRecord(json)) throw new FileFormatError(`${src} must hold a JSON object`, { source: src });
      return json;
    };
    const json = parseJson(tokenizerJson, source);
    const config = configJson === undefined ? {} : parseJson(configJson, 'tokenizer_config.json');
    const model = json['model'];
    if (!isRecord(model) || typeof model['type'] !== 'string') throw new FileFormatError(`${source} needs a 'model' object with a 'type' (BPE, WordPiece, Unigram)`, { source, field: 'model' });
    let inner: Tokenizer;
    try {
      inner = new Tokenizer(json, config);
    } catch (e) {
      throw new FileFormatError(`${source} could not be read as a tokenizer: ${(e as Error).message}`, { source, field: 'model' }, e);
    }
    let size = 0;
    for (const id of inner.get_vocab(true).values()) size = Math.max(size, id + 1);
    return new TextTokenizer(inner, size);
  }

  /**
   * Token ids of `text`. `addSpecialTokens` (default true) applies the post-processor (e.g. LLaMA's
   * leading `<s>`; GPT-2's adds none).
   * @throws {InvalidArgumentError} `invalid_argument` for a non-string, over-long or empty-encoding text (details.arg).
   */
  encode(text: string, opts: { readonly addSpecialTokens?: boolean; readonly arg?: string } = {}): number[] {
    const arg = opts.arg ?? 'text';
    if (typeof text !== 'string') throw new InvalidArgumentError(`Argument '${arg}' passed to 'TextTokenizer.encode' must be a string`, { arg });
    if (text.length > MAX_TEXT_CHARS) throw new InvalidArgumentError(`Argument '${arg}' passed to 'TextTokenizer.encode' has ${text.length} characters; at most ${MAX_TEXT_CHARS}`, { arg });
    const ids = this.inner.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    if (ids.length === 0) throw new InvalidArgumentError(`Argument '${arg}' passed to 'TextTokenizer.encode' gives no tokens; pass a text with at least one known character`, { arg });
    return ids;
  }

  /**
   * Token ids of `text` (special tokens added, as `encode`) with each token's characters `[start, end)`
   * in `text`. The library gives no offsets, so they are recovered by decoding: each token's text is
   * the decoding of it after its left neighbour minus the neighbour's own (special tokens decode to
   * nothing, so a BOS is `[0, 0)`); tokens that together make one character (byte-level pieces of a
   * multi-byte character, byte-fallback tokens) share that character's span.
   *
   * Cost: two decodes of at most a few tokens per token.
   * @throws {CapabilityError} `capability_missing` when the decoded tokens are not the text (a
   *   normalizer that lowercases or rewrites it): offsets cannot be recovered.
   */
  encodeWithOffsets(text: string, arg = 'text'): OffsetToken[] {
    const ids = this.encode(text, { arg });
    const piece = (from: number, to: number): string => (to > from ? this.inner.decode(ids.slice(from, to), { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : '');
    const out: { id: number; start: number; end: number }[] = [];
    let group = 0; // first token of the group not yet placed
    let pos = 0;
    let left = 0; // the last group with text: decoded as left context, so a decoder stripping the text's leading space strips it from that group
    const widen = (to: number): void => {
      for (let k = out.length - 1; k >= 0 && out[k]!.start === pos && out[k]!.end === pos && pos > 0; k--) out[k]!.end = to;
    };
    for (let i = 0; i < ids.length; i++) {
      const got = piece(left, i + 1).slice(piece(left, group).length);
      let at = pos;
      if (!text.startsWith(got, pos)) {
        // characters the tokenizer dropped (or an unknown token, which decodes to nothing) come before
        // this token: skip them, giving them to the zero-width tokens just before
        const found = got.length > 0 && i === group ? text.indexOf(got, pos + 1) : -1;
        if (found > 0 && found - pos <= MAX_SKIPPED_CHARS) {
          at = found;
          widen(at);
        } else if (i - group < MAX_TOKENS_PER_CHAR) continue; // an incomplete character: wait for its other bytes
        else break;
      }
      for (let k = group; k <= i; k++) out.push({ id: ids[k]!, start: at, end: at + got.length });
      if (got.length > 0) left = group;
      pos = at + got.length;
      group = i + 1;
    }
    if (text.length - pos <= MAX_SKIPPED_CHARS) widen(text.length); // an unknown token at the end
    if (group < ids.length) {
      throw new CapabilityError(`The tokenizer's tokens do not decode back to the text (at character ${pos}), so their character offsets cannot be recovered; use a tokenizer without a rewriting normalizer`, { arg, position: pos });
    }
    return out;
  }

  /** The text of `ids` (special tokens kept unless `skipSpecialTokens`). */
  decode(ids: readonly number[], opts: { readonly skipSpecialTokens?: boolean } = {}): string {
    return this.inner.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** The vocabulary string of each id (`undefined` → `"<id>"`), for labels. */
  tokenStrings(ids: readonly number[]): string[] {
    return ids.map((id) => this.inner.id_to_token(id) ?? `<${id}>`);
  }

  /** The id of a token string, when it is in the vocabulary. */
  tokenId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }
}
