import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileFormatError } from '../../core/errors.js';
import { LocalLmApi } from '../../context/scorers/local.js';
import { loadTransformer } from '../../io/load-transformer.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import { WordLevelTokenizer } from '../../models/transformer/word-level-tokenizer.js';

/** Largest tokenizer.json read. */
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/**
 * The scorer of `attrib context --model DIR`: the folder's transformer (`loadTransformer`) with its
 * `tokenizer.json` (a WordLevel tokenizer), scoring `batchSize` prompts per forward run. Dispose it
 * with the returned `dispose`.
 * @throws {FileFormatError} `invalid_file` for a missing, oversized or malformed tokenizer.json.
 */
export async function openLocalScorer(dir: string, batchSize: number, maxRuns: number | undefined): Promise<{ scorer: LocalLmApi; model: HookedTransformer; tokenizer: WordLevelTokenizer; dispose: () => void }> {
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
  const tokenizer = WordLevelTokenizer.fromJson(json, file);
  const model = await loadTransformer(dir);
  if (tokenizer.size > model.config.vocabSize) {
    model.dispose();
    throw new FileFormatError(`${file} has ids up to ${tokenizer.size - 1}; the model's vocab_size is ${model.config.vocabSize}`, { source: file, field: 'model.vocab' });
  }
  const scorer = new LocalLmApi(model, tokenizer, { batchSize, ...(maxRuns === undefined ? {} : { maxRuns }) });
  return { scorer, model, tokenizer, dispose: () => model.dispose() };
}
