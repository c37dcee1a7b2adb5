import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileFormatError } from '../../core/errors.js';
import { LocalLmApi, type OffsetTokenizer } from '../../context/scorers/local.js';
import { loadTokenizer } from '../../io/load-tokenizer.js';
import { loadTransformer } from '../../io/load-transformer.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import type { TextTokenizer } from '../../models/transformer/tokenizer.js';
import { WordLevelTokenizer } from '../../models/transformer/word-level-tokenizer.js';

/** Largest tokenizer.json read. */
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/** A Hugging Face tokenizer (BPE, byte level, sentencepiece-style, Unigram…) as the local scorer's offset tokenizer. */
class TextOffsetTokenizer implements OffsetTokenizer {
  constructor(readonly inner: TextTokenizer) {}
  get size(): number {
    return this.inner.vocabSize;
  }
  encode(text: string) {
    return this.inner.encodeWithOffsets(text, 'prompt');
  }
  decode(ids: readonly number[]): string {
    return this.inner.decode(ids, { skipSpecialTokens: true });
  }
  continuation(prompt: readonly number[], generated: readonly number[]): string {
    return this.decode([...prompt, ...generated]).slice(this.decode(prompt).length);
  }
}

/**
 * The scorer of `attrib context --model DIR`: the folder's transformer (`loadTransformer`) with its
 * `tokenizer.json`: a WordLevel one read by `WordLevelTokenizer`, any other (BPE: GPT-2 byte level,
 * LLaMA/sentencepiece style; Unigram; WordPiece) by the Hugging Face `TextTokenizer` with offsets
 * recovered by decoding; `batchSize` prompts per forward run. Dispose it with the returned `dispose`.
 * @throws {FileFormatError} `invalid_file` for a missing, oversized or malformed tokenizer.json, or one with ids past the model's vocabulary.
 */
export async function openLocalScorer(dir: string, batchSize: number, maxRuns: number | undefined): Promise<{ scorer: LocalLmApi; model: HookedTransformer; tokenizer: OffsetTokenizer & { readonly size: number }; dispose: () => void }> {
  const file = path.join(dir, 'tokenizer.json');
  let json: unknown;
  try {
    const s = await stat(file);
    if (s.size > MAX_TOKENIZER_BYTES) throw new FileFormatError(`${file} is ${s.size} bytes; at most ${MAX_TOKENIZER_BYTES} are read`, { source: file, size: s.size });
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(`Cannot read '${file}' as JSON (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); --model DIR needs the folder's tokenizer.json`, { source: file, field: 'tokenizer.json' }, e);
  }
  const model = isWordLevel(json) ? undefined : await loadTokenizer(dir);
  const tokenizer = model === undefined ? WordLevelTokenizer.fromJson(json, file) : new TextOffsetTokenizer(model);
  const lm = await loadTransformer(dir);
  if (tokenizer.size > lm.config.vocabSize) {
    lm.dispose();
    throw new FileFormatError(`${file} has ids up to ${tokenizer.size - 1}; the model's vocab_size is ${lm.config.vocabSize}`, { source: file, field: 'model.vocab' });
  }
  const scorer = new LocalLmApi(lm, tokenizer, { batchSize, ...(maxRuns === undefined ? {} : { maxRuns }) });
  return { scorer, model: lm, tokenizer, dispose: () => lm.dispose() };
}

function isWordLevel(json: unknown): boolean {
  if (typeof json !== 'object' || json === null || !('model' in json)) return false;
  const m = json.model;
  return typeof m === 'object' && m !== null && 'type' in m && m.type === 'WordLevel';
}
