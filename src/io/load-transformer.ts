// A Hugging Face model folder (config.json + safetensors) loaded as a HookedTransformer on onnxruntime-node.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { FileFormatError } from '../core/errors.js';
import { importPeer } from '../models/peers.js';
import { parseTransformerConfig } from '../models/transformer/config.js';
import { HookedTransformer, type HookedTransformerOptions } from '../models/transformer/hooked-transformer.js';
import { readCappedFile } from './read-capped.js';
import { readSafetensorsFolder } from './safetensors-folder.js';
import type { SafetensorsLimits } from './safetensors.js';

const MAX_CONFIG_BYTES = 1 << 20;

export interface LoadTransformerOptions extends HookedTransformerOptions {
  /** Caps on the safetensors files (header bytes, tensors, total bytes). */
  readonly limits?: SafetensorsLimits;
}

/**
 * Loads folder `dir` (`config.json`, `model.safetensors` or sharded `model-…-of-….safetensors` with
 * `model.safetensors.index.json`) as a `HookedTransformer` running on onnxruntime-node. Token ids are
 * what the model takes (`loadTokenizer(dir)` reads the folder's `tokenizer.json` for text).
 * @throws {ModelLoadError} `invalid_model` for an unsupported `model_type` (the message lists the
 *   supported ones), a bad config field, or a weight of the wrong shape.
 * @throws {FileFormatError} `invalid_file` for a missing or oversized config, a lying safetensors header
 *   or a missing tensor (details name the file, field or tensor).
 */
export async function loadTransformer(dir: string, opts: LoadTransformerOptions = {}): Promise<HookedTransformer> {
  const configPath = path.join(dir, 'config.json');
  try {
    await fs.stat(configPath);
  } catch (e) {
    throw new FileFormatError(`Cannot read '${configPath}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; a model folder needs config.json`, { source: configPath, field: 'config.json' }, e);
  }
  // a regular file of at most 1 MiB (not a device or pipe that stat reports as empty)
  const text = new TextDecoder().decode(await readCappedFile(configPath, MAX_CONFIG_BYTES));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(`${configPath} is not valid JSON: ${(e as Error).message}`, { source: configPath, field: 'config.json' }, e);
  }
  const config = parseTransformerConfig(json, configPath);
  const weights = await readSafetensorsFolder(dir, opts.limits);
  const ort = (await importPeer('onnxruntime-node')) as typeof Ort;
  return HookedTransformer.create(config, weights, ort, { name: path.basename(path.resolve(dir)), ...opts });
}
