import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ScoreStore } from './scorer.js';
import type { TokenScore } from './scorers/tokens.js';

/** Largest cache entry read back (bytes). */
const MAX_ENTRY_BYTES = 32 * 1024 * 1024;

/**
 * An on-disk cache of scored responses, one JSON file per (api, endpoint, model, prompt, response),
 * named by the SHA-256 of that key, in a private folder (mode 0700, files 0600). Writes are atomic
 * (a temporary file renamed into place), so concurrent runs never read half an entry; a corrupt or
 * foreign entry, a symlink, or a folder another user owns or others can write to is ignored (a miss), never trusted. A
 * failed write is skipped: the cache never fails a run. No API key is part of the key or the entry.
 */
export class ScoreCache implements ScoreStore {
  private ready: Promise<boolean> | undefined;

  constructor(readonly dir: string) {}

  /** The cache file's name for a key. */
  static keyOf(parts: readonly (string | undefined)[]): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  async get(parts: readonly (string | undefined)[]): Promise<TokenScore[] | undefined> {
    const key = ScoreCache.keyOf(parts);
    const file = path.join(this.dir, `${key}.json`);
    try {
      if (!(await this.usable())) return undefined;
      const st = await lstat(file);
      if (!st.isFile() || st.size > MAX_ENTRY_BYTES) return undefined;
      const j = JSON.parse(await readFile(file, 'utf8')) as { key?: unknown; tokens?: unknown };
      if (j.key !== key || !Array.isArray(j.tokens)) return undefined;
      const out: TokenScore[] = [];
      for (const t of j.tokens) {
        if (!Array.isArray(t) || t.length !== 3 || !t.every((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
        out.push({ start: t[0], end: t[1], logprob: t[2] });
      }
      return out;
    } catch {
      return undefined;
    }
  }

  async set(parts: readonly (string | undefined)[], tokens: readonly TokenScore[]): Promise<void> {
    const key = ScoreCache.keyOf(parts);
    if (!(await this.usable())) return;
    const file = path.join(this.dir, `${key}.json`);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify({ key, tokens: tokens.map((t) => [t.start, t.end, t.logprob]) }), { mode: 0o600, flag: 'wx' });
      await rename(tmp, file);
    } catch {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** Creates the folder (0700) once; false when it cannot be made, is another user's, or others may write to it. */
  private usable(): Promise<boolean> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 })
      .then(() => lstat(this.dir))
      // ours (another user's folder is theirs to plant entries in, whatever its mode) and not writable by others
      .then((st) => st.isDirectory() && (st.mode & 0o022) === 0 && (process.getuid === undefined || st.uid === process.getuid()))
      .catch(() => false);
    return this.ready;
  }
}
