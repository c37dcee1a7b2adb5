// The weights of a Hugging Face model folder: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json` (`weight_map`: tensor → shard file), read defensively.
import { preview } from '../core/preview.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../core/errors.js';
import type { WeightStore, WeightTensor } from '../models/transformer/weights.js';
import { readCappedFile as readCapped } from './read-capped.js';
import { DEFAULT_SAFETENSORS_LIMITS, SafetensorsFile, type SafetensorsLimits } from './safetensors.js';

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const MAX_INDEX_BYTES = 64 * 2 ** 20;


/**
 * Reads the weights of folder `dir`: `model.safetensors`, else the shards of
 * `model.safetensors.index.json`. Shard names must be plain file names inside `dir`; every tensor the
 * index lists must be in its shard; no tensor may appear in two shards; the data of all shards together
 * is capped by `limits.maxTotalBytes` (checked from file sizes before reading).
 * @throws {FileFormatError} `invalid_file` naming the file, field or tensor that is wrong or missing.
 */
export async function readSafetensorsFolder(dir: string, limits: SafetensorsLimits = {}): Promise<WeightStore> {
  const cap = limits.maxTotalBytes ?? DEFAULT_SAFETENSORS_LIMITS.maxTotalBytes;
  const headerRoom = 8 + (limits.maxHeaderBytes ?? DEFAULT_SAFETENSORS_LIMITS.maxHeaderBytes);
  const single = path.join(dir, SINGLE);
  if (await exists(single)) return SafetensorsFile.parse(await readCapped(single, cap + headerRoom), single, limits);
  const indexPath = path.join(dir, INDEX);
  if (!(await exists(indexPath))) {
    throw new FileFormatError(`Model folder '${dir}' has neither ${SINGLE} nor ${INDEX}`, { source: dir, field: 'weights' });
  }
  let index: unknown;
  try {
    index = JSON.parse(new TextDecoder().decode(await readCapped(indexPath, MAX_INDEX_BYTES)));
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(`${indexPath} is not valid JSON: ${(e as Error).message}`, { source: indexPath, field: 'index' }, e);
  }
  const map = typeof index === 'object' && index !== null ? (index as { weight_map?: unknown }).weight_map : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new FileFormatError(`${indexPath} must hold "weight_map": {tensor: shard file}`, { source: indexPath, field: 'weight_map' });
  }
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !/^[\w.-]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new FileFormatError(`${indexPath}: weight_map['${tensor}'] must be a .safetensors file name in the folder, got ${preview(shard)}`, { source: indexPath, field: 'weight_map', tensor });
    }
    byShard.set(shard, [...(byShard.get(shard) ?? []), tensor]);
  }
  let budget = cap;
  const where = new Map<string, SafetensorsFile>();
  for (const [shard, tensors] of byShard) {
    const file = path.join(dir, shard);
    const bytes = await readCapped(file, budget + headerRoom);
    budget -= bytes.length;
    const parsed = SafetensorsFile.parse(bytes, file, { ...limits, maxTotalBytes: cap });
    for (const t of tensors) {
      if (!parsed.has(t)) throw new FileFormatError(`${file} has no tensor '${t}', which ${INDEX} places there`, { source: file, tensor: t });
    }
    for (const t of parsed.names) {
      const other = where.get(t);
      if (other) throw new FileFormatError(`Tensor '${t}' is in two shards: ${other.source} and ${file}`, { source: file, tensor: t });
      where.set(t, parsed);
    }
  }
  // tensors spread over the shards, by name
  return {
    names: [...where.keys()],
    has: (name) => where.has(name),
    get: (name): WeightTensor => {
      const file = where.get(name);
      if (!file) throw new FileFormatError(`The model's safetensors files have no tensor '${name}'`, { tensor: name });
      return file.get(name);
    },
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}
