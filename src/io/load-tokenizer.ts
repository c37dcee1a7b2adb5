// The tokenizer.json (+ tokenizer_config.json) of a model folder, read with size caps.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../core/errors.js';
import { MAX_TOKENIZER_CHARS, TextTokenizer } from '../models/transformer/tokenizer.js';

async function readCapped(file: string, optional: boolean): Promise<string | undefined> {
  let size: number;
  try {
    size = (await fs.stat(file)).size;
  } catch (e) {
    if (optional) return undefined;
    throw new FileFormatError(`Cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; text input needs the model folder's tokenizer.json (or pass token ids)`, { source: file, field: path.basename(file) }, e);
  }
  if (size > MAX_TOKENIZER_CHARS) throw new FileFormatError(`${file} is ${size} bytes; at most ${MAX_TOKENIZER_CHARS} are read`, { source: file, size });
  return fs.readFile(file, 'utf8');
}

/**
 * Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`.
 * @throws {FileFormatError} `invalid_file` for a missing, oversized or malformed file (details.source).
 */
export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const file = path.join(dir, 'tokenizer.json');
  const json = (await readCapped(file, false))!;
  const config = await readCapped(path.join(dir, 'tokenizer_config.json'), true);
  return TextTokenizer.parse(json, config, file);
}
