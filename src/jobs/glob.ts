import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';

/** Most files a folder or glob may name (a dataset larger than this is split into several jobs). */
export const MAX_DATASET_FILES = 1_000_000;
/** Deepest folder nesting walked by `**`. */
const MAX_DEPTH = 32;

/** True when `spec` holds a glob character (`*`, `?`, `[`). */
export const isGlob = (spec: string): boolean => /[*?[]/.test(spec);

/**
 * The regular expression of a glob over `/`-separated relative paths: `**` any number of folders,
 * `*` any run of characters within one name, `?` one character, `[abc]` one of a set (`[!abc]` none
 * of it). Hidden files and folders (names starting with a dot) are never listed.
 */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      re += slash ? '(?:[^/]+/)*' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new InvalidArgumentError(`Glob '${pattern}' has an unclosed '['`, { arg: 'inputs', value: pattern });
      re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The files a folder holds (recursively, `**`) or a glob names, as `/`-separated paths relative to
 * `base`, sorted. The base of a glob is its longest leading part without glob characters.
 * @throws {InvalidArgumentError} `invalid_argument` when the folder is missing or holds more than {@link MAX_DATASET_FILES} files.
 */
export async function listFiles(spec: string): Promise<{ base: string; files: string[] }> {
  const parts = spec.split(/[\\/]/);
  const firstGlob = parts.findIndex(isGlob);
  const base = firstGlob < 0 ? spec : parts.slice(0, firstGlob).join('/') || (spec.startsWith('/') ? '/' : '.');
  const pattern = firstGlob < 0 ? '**' : parts.slice(firstGlob).join('/');
  const match = globRegExp(pattern);
  const stat = await fs.stat(base).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InvalidArgumentError(`Option '--inputs' ${JSON.stringify(spec)}: folder '${base}' does not exist`, { arg: 'inputs', value: spec, reason: 'missing' });
  const files: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const entries = await fs.readdir(path.join(base, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && match.test(p)) {
        files.push(p);
        if (files.length > MAX_DATASET_FILES) {
          throw new InvalidArgumentError(`Option '--inputs' ${JSON.stringify(spec)} names more than ${MAX_DATASET_FILES} files; split the dataset into several jobs`, { arg: 'inputs', value: spec, reason: 'too_many_files' });
        }
      }
    }
  };
  await walk('', 0);
  return { base, files: files.sort() };
}
