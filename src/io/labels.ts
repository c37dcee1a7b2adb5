/**
 * Names for a model's outputs (class labels) and for tabular input features, read from text.
 * Pure parsing: the caller reads the file.
 */
import { preview } from '../core/preview.js';
import { FileFormatError, InvalidArgumentError } from '../core/errors.js';

/** Class labels by output index (sparse when given as a JSON object). */
export type ClassLabels = ReadonlyMap<number, string>;

/** At most this many labels or feature names are read. */
export const MAX_NAMES = 1_000_000;

/**
 * Parses class labels: a JSON array (`["cat", "dog"]`), a JSON object from index to label
 * (`{"0": "cat", "1": "dog"}`, ImageNet's style), or one label per line (blank lines at the end ignored).
 */
export function parseLabels(text: string, source: string): ClassLabels {
  const json = asJson(text, source);
  const out = new Map<number, string>();
  if (json === undefined) {
    lines(text, source).forEach((l, i) => out.set(i, l));
  } else if (Array.isArray(json)) {
    json.forEach((l, i) => out.set(i, asName(l, `${source} [${i}]`)));
  } else if (typeof json === 'object' && json !== null) {
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || String(i) !== k.trim()) throw new FileFormatError(`Labels ${source}: key ${preview(k)} is not an output index (0, 1, 2, …)`, { source, key: k });
      // ImageNet's class index JSON maps an index to [wnid, name]: keep the name
      const label = Array.isArray(v) && v.length === 2 && typeof v[1] === 'string' ? v[1] : v;
      out.set(i, asName(label, `${source} key ${k}`));
    }
  } else {
    throw new FileFormatError(`Labels ${source} must be a JSON array, a JSON object {index: label} or one label per line`, { source });
  }
  if (out.size === 0) throw new FileFormatError(`Labels ${source} holds no label`, { source });
  if (out.size > MAX_NAMES) throw new FileFormatError(`Labels ${source} holds ${out.size} labels; at most ${MAX_NAMES} are read`, { source });
  return out;
}

/** Parses feature names: a JSON array of strings, or one name per line. */
export function parseFeatureNames(text: string, source: string): string[] {
  const json = asJson(text, source);
  let names: string[];
  if (json === undefined) names = lines(text, source);
  else if (Array.isArray(json)) names = json.map((n, i) => asName(n, `${source} [${i}]`));
  else throw new FileFormatError(`Feature names ${source} must be a JSON array of strings or one name per line`, { source });
  if (names.length === 0) throw new FileFormatError(`Feature names ${source} hold no name`, { source });
  if (names.length > MAX_NAMES) throw new FileFormatError(`Feature names ${source} hold ${names.length} names; at most ${MAX_NAMES} are read`, { source });
  return names;
}

/**
 * Checks labels against the model's number of outputs per row: a list (array or lines) must name every
 * output; an {index: label} object may name some, all within range.
 */
export function checkLabels(labels: ClassLabels, outputs: number, sparse: boolean, source: string): void {
  const max = Math.max(...labels.keys());
  if (max >= outputs || (!sparse && labels.size !== outputs)) {
    throw new InvalidArgumentError(`Labels ${source} name ${sparse ? `index ${max}` : `${labels.size} classes`} but the model has ${outputs} outputs per row`, {
      arg: 'labels',
      expected: outputs,
      actual: sparse ? max + 1 : labels.size,
    });
  }
}

/** Whether `text` is a JSON object of labels (as opposed to an array or lines). */
export const isSparseLabels = (text: string): boolean => text.trimStart().startsWith('{');

function asJson(text: string, source: string): unknown {
  const t = text.trimStart();
  if (!t.startsWith('[') && !t.startsWith('{')) return undefined;
  try {
    return JSON.parse(t);
  } catch (e) {
    throw new FileFormatError(`${source} starts like JSON but does not parse: ${(e as Error).message}`, { source }, e);
  }
}

function lines(text: string, source: string): string[] {
  const all = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (all.length > 0 && all[all.length - 1]!.trim() === '') all.pop();
  all.forEach((l, i) => {
    if (l.trim() === '') throw new FileFormatError(`${source} line ${i + 1} is blank; give one name per line`, { source, line: i + 1 });
  });
  return all.map((l) => l.trim());
}

function asName(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new FileFormatError(`${where} must be a string, got ${preview(v)}`, { where });
}
