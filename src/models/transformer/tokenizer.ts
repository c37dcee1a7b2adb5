// Text ↔ token ids from a Hugging Face `tokenizer.json`, through @huggingface/tokenizers (pure JS, no dependencies).
import { Tokenizer } from '@huggingface/tokenizers';
import { FileFormatError, InvalidArgumentError } from '../../core/errors.js';

/** Longest `tokenizer.json` text parsed (bytes of UTF-16 text, roughly): 64 MiB. */
export const MAX_TOKENIZER_CHARS = 64 * 2 ** 20;
/** Longest text encoded at once. */
export const MAX_TEXT_CHARS = 1 << 20;

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
