// Reads an untrusted file whole, but only a regular file and never more than a cap: a device or a
// pipe (a symlink to /dev/zero, a FIFO) reports size 0 to stat and would be read without end.
import { constants, promises as fs } from 'node:fs';
import { FileFormatError } from '../core/errors.js';

/**
 * The bytes of regular file `p`, refused (before reading) when it is no regular file or is larger than
 * `cap` bytes; at most `cap` bytes are read even if the file grows meanwhile.
 * @throws {FileFormatError} `invalid_file` (details.source names the file) when it cannot be opened, is
 *   not a regular file, or is over the cap (details.size, details.cap).
 */
export async function readCappedFile(p: string, cap: number): Promise<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below)
    handle = await fs.open(p, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new FileFormatError(`Cannot read '${p}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { source: p }, e);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FileFormatError(`'${p}' is not a regular file (a device, pipe or folder); only regular files are read`, { source: p, field: 'file' });
    if (st.size > cap) throw new FileFormatError(`'${p}' is ${st.size} bytes; at most ${cap} bytes are read (maxTotalBytes)`, { source: p, size: st.size, cap });
    const out = new Uint8Array(st.size);
    let at = 0;
    while (at < out.length) {
      const { bytesRead } = await handle.read(out, at, out.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === out.length ? out : out.subarray(0, at);
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(`Cannot read '${p}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { source: p }, e);
  } finally {
    await handle.close();
  }
}
