// The on-disk store of compiled backward graphs (Node only): one file per key in a cache folder,
// written atomically, read back as untrusted bytes.
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs, readdirSync, readFileSync, type Dirent } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../../core/errors.js';
import type { CompiledGraphStore } from './differentiable.js';

/** Where compiled graphs are kept: a folder, or `false` for no on-disk cache. */
export type CacheDirOption = string | false;

const MAGIC = 'ATTRIBG1';
/** Entries kept; the least recently written beyond it are removed after a write. */
const MAX_ENTRIES = 64;
/** Largest entry read back (a backward graph holds the model's weights about once or twice). */
const MAX_ENTRY_BYTES = 1024 * 1024 * 1024;
/** Bytes kept in all; the oldest entries beyond it are removed after a write. */
const MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * The cache folder: `opt` when given (`false` turns the cache off), else the `ATTRIB_CACHE_DIR`
 * environment variable (`off`, `0`, `false` or empty turn it off), else `$XDG_CACHE_HOME/attrib`,
 * else `~/.cache/attrib`.
 */
export function resolveCacheDir(opt: CacheDirOption | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  if (opt === false) return undefined;
  if (opt !== undefined) {
    if (typeof opt !== 'string' || opt.length === 0) {
      throw new InvalidArgumentError(`Option 'cacheDir' must be a folder path or false, got ${JSON.stringify(opt)}`, { arg: 'cacheDir', value: opt });
    }
    return path.resolve(opt);
  }
  const fromEnv = env['ATTRIB_CACHE_DIR'];
  if (fromEnv !== undefined) return ['', 'off', '0', 'false'].includes(fromEnv.trim().toLowerCase()) ? undefined : path.resolve(fromEnv);
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'attrib');
  const home = os.homedir();
  return home ? path.join(home, '.cache', 'attrib') : undefined;
}

/**
 * A store of compiled graphs in `dir` (created with mode 0700 when missing; not used when others can
 * write to it). Keys are hashed again with a fingerprint of the graph compiler's own files (their
 * contents), so a changed compiler never reads a graph an older one wrote. Writes go to a temporary file renamed
 * into place; reads accept only a regular file (no symlink), owned by this user where the platform
 * says, under the size cap, whose header names the key and whose bytes match the SHA-256 it records.
 * Every failure reads as a miss (the caller recompiles) or a skipped write: the cache never fails a call.
 */
export function diskGraphStore(dir: string): CompiledGraphStore {
  const salt = compilerFingerprint();
  const fileOf = (key: string) => path.join(dir, `${createHash('sha256').update(salt).update(key).digest('hex')}.vjp`);
  return {
    async get(key) {
      const file = fileOf(key);
      let handle: fs.FileHandle | undefined;
      try {
        if (!(await privateFolder(dir))) return undefined;
        // the checks and the read are on one open file, which must not be a symlink
        handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
        const st = await handle.stat();
        if (!st.isFile() || st.size > MAX_ENTRY_BYTES) return undefined;
        const uid = process.getuid?.();
        if (uid !== undefined && st.uid !== uid) return undefined;
        return unpack(new Uint8Array(await handle.readFile()), key);
      } catch {
        return undefined;
      } finally {
        await handle?.close().catch(() => undefined);
      }
    },
    async put(key, value) {
      const file = fileOf(key);
      const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        if (!(await privateFolder(dir))) return;
        await fs.writeFile(tmp, pack(key, value), { mode: 0o600, flag: 'wx' });
        await fs.rename(tmp, file);
        await prune(dir);
      } catch {
        await fs.rm(tmp, { force: true }).catch(() => undefined);
      }
    },
  };
}

function pack(key: string, value: Uint8Array): Uint8Array {
  const header = Buffer.from(JSON.stringify({ key, size: value.length, sha256: createHash('sha256').update(value).digest('hex') }));
  const lengths = Buffer.alloc(4);
  lengths.writeUInt32LE(header.length, 0);
  return Buffer.concat([Buffer.from(MAGIC), lengths, header, value]);
}

function unpack(raw: Uint8Array, key: string): Uint8Array | undefined {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const n = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + n;
  if (start > buf.length) return undefined;
  const header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, start)) as { key?: unknown; size?: unknown; sha256?: unknown };
  const value = raw.subarray(start);
  if (header.key !== key || header.size !== value.length) return undefined;
  if (header.sha256 !== createHash('sha256').update(value).digest('hex')) return undefined;
  return value;
}

/**
 * A folder only this user can write (POSIX): owned by the user, not group- or world-writable. Entries in
 * a folder others can write to could be swapped for graphs of their choosing, so such a folder is not used.
 */
async function privateFolder(dir: string): Promise<boolean> {
  const uid = process.getuid?.();
  if (uid === undefined) return true;
  const st = await fs.lstat(dir);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
}

/** Removes the oldest entries (and stale temporary files) beyond `MAX_ENTRIES` or `MAX_TOTAL_BYTES`. */
async function prune(dir: string): Promise<void> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.vjp') || n.endsWith('.tmp'));
  const dated = await Promise.all(
    names.map(async (n) => {
      const st = await fs.lstat(path.join(dir, n)).catch(() => undefined);
      return { n, t: st?.mtimeMs ?? 0, size: st?.size ?? 0 };
    }),
  );
  dated.sort((a, b) => b.t - a.t); // newest first: kept while within both limits
  let total = 0;
  for (const [i, { n, size }] of dated.entries()) {
    total += size;
    if (i >= MAX_ENTRIES || total > MAX_TOTAL_BYTES) await fs.rm(path.join(dir, n), { force: true }).catch(() => undefined);
  }
}

/**
 * A hash of the contents of every file that compiles backward graphs: the adapter, the cache itself, and
 * the grad/, graph/ and rewrite/ folders with their subfolders (tests excluded). Contents, not dates:
 * a package install gives every file the same modification time.
 */
function compilerFingerprint(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const h = createHash('sha256');
  const add = (file: string, label: string) => {
    try {
      h.update(`${label}\n`).update(readFileSync(file));
    } catch {
      h.update(`${label}:?\n`);
    }
  };
  const walk = (folder: string, label: string): void => {
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch {
      h.update(`${label}:missing\n`);
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(folder, e.name), `${label}/${e.name}`);
      else if (/\.(ts|js)$/.test(e.name) && !e.name.includes('.test.')) add(path.join(folder, e.name), `${label}/${e.name}`);
    }
  };
  for (const n of readdirSync(here).filter((f) => /^(differentiable|compile-cache)\.(ts|js)$/.test(f)).sort()) add(path.join(here, n), n);
  for (const sub of ['grad', 'graph', 'rewrite']) walk(path.join(here, sub), sub);
  return h.digest('hex');
}
