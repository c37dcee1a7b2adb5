import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AttributionError, ModelLoadError } from '../core/errors.js';

/** A JSON value (what job settings are made of). */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/**
 * Everything that decides a job's results. A store keeps the settings it was started with and
 * refuses to be resumed with others, so that its rows never mix two jobs.
 */
export interface JobSettings {
  /** The model file as given, and the SHA-256 of its bytes (model.json or .onnx). */
  readonly model: string;
  readonly modelDigest: string;
  /** The inputs as given, their count, and the SHA-256 of their ids in order. */
  readonly inputs: string;
  readonly inputCount: number;
  readonly inputsDigest: string;
  readonly method: string;
  /** Metrics scored per input, in column order. */
  readonly metrics: readonly string[];
  /** Targets attributed per input: output indices, or `auto` (each input's arg-max). */
  readonly targets: readonly (number | 'auto')[];
  /** Every other setting that changes the results (method options, baseline, engine, backend …). */
  readonly options: { readonly [key: string]: Json };
}

/**
 * A store asked to continue a job with other settings than it was started with.
 * `details.differences` lists each setting that differs, with the stored and the given value.
 */
export class JobSettingsError extends AttributionError {
  override name = 'JobSettingsError';
  constructor(store: string, differences: readonly { readonly key: string; readonly stored: Json | undefined; readonly given: Json | undefined }[]) {
    const shown = differences.map((d) => `${d.key}: ${JSON.stringify(d.stored ?? null)} → ${JSON.stringify(d.given ?? null)}`).join('; ');
    super('invalid_argument', `Store '${store}' holds a job with other settings (${shown}); resume it with its own settings (attrib run --out STORE --resume), or give a new --out`, {
      details: { arg: 'out', store, reason: 'settings_changed', differences },
    });
  }
}

/** JSON with sorted keys, so equal settings give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map((x: unknown) => canonicalJson(x)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Readonly<Record<string, unknown>>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The settings that differ between `stored` and `given` (`options.*` compared one by one). */
export function settingsDifferences(stored: JobSettings, given: JobSettings): { key: string; stored: Json | undefined; given: Json | undefined }[] {
  const flat = (s: JobSettings): Map<string, Json> => {
    const m = new Map<string, Json>();
    for (const [k, v] of Object.entries(s)) if (k !== 'options') m.set(k, v as Json);
    for (const [k, v] of Object.entries(s.options)) m.set(`options.${k}`, v);
    return m;
  };
  const a = flat(stored);
  const b = flat(given);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => canonicalJson(a.get(k)) !== canonicalJson(b.get(k))).map((k) => ({ key: k, stored: a.get(k), given: b.get(k) }));
}

/** Most model bytes hashed (every file is read). */
const MAX_DIGEST_BYTES = 2 ** 32;

/**
 * SHA-256 of a model: of the file, or of every file directly in the model's folder (names and bytes,
 * so retrained weights beside an unchanged model.json change it too). A model.json's weight files
 * are its siblings, so they count as well.
 */
export async function modelDigest(file: string): Promise<string> {
  const fail = (e: unknown): never => {
    throw new ModelLoadError(`Cannot read model '${file}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file }, e);
  };
  const stat = await fs.stat(file).catch(fail);
  const dir = stat.isDirectory() ? file : path.dirname(file);
  const names = stat.isDirectory() || file.toLowerCase().endsWith('.json') ? (await fs.readdir(dir, { withFileTypes: true }).catch(fail)).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort() : [path.basename(file)];
  const h = createHash('sha256');
  let total = 0;
  for (const name of names) {
    const bytes = await fs.readFile(path.join(dir, name)).catch(fail);
    total += bytes.length;
    if (total > MAX_DIGEST_BYTES) throw new ModelLoadError(`Model '${file}' is over ${MAX_DIGEST_BYTES} bytes; it cannot be fingerprinted`, { file });
    h.update(`${name}\0${bytes.length}\0`).update(bytes);
  }
  return h.digest('hex');
}

/** SHA-256 of text or bytes, as hex. */
export const digest = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
