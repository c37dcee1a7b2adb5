// The safetensors reader against honest files (F32, F16, BF16, shards) and lying ones.
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { AttributionError } from '../core/errors.js';
import { halfToFloat, SafetensorsFile } from './safetensors.js';
import { readSafetensorsFolder } from './safetensors-folder.js';
import { encodeSafetensors } from './safetensors-write.js';

afterAll(removeTempDirs);

/** Bytes with a hand-written header (any lie) and `dataBytes` bytes of data. */
function raw(header: unknown, dataBytes: number, fill?: (view: DataView) => void): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  fill?.(new DataView(out.buffer, 8 + json.length));
  return out;
}

function codeAndDetails(f: () => unknown): { code: string; details: Readonly<Record<string, unknown>> } {
  try {
    f();
  } catch (e) {
    if (e instanceof AttributionError) return { code: e.code, details: e.details };
    throw e;
  }
  throw new AttributionError('invalid_argument', 'expected a throw');
}

describe('SafetensorsFile', () => {
  it('reads F32 tensors and metadata written by encodeSafetensors', () => {
    const bytes = encodeSafetensors({ a: { shape: [2, 3], data: [1, 2, 3, 4, 5, -6.5] }, b: { shape: [], data: [7] } }, { format: 'pt' });
    const f = SafetensorsFile.parse(bytes);
    expect(f.names).toEqual(['a', 'b']);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.get('a').shape).toEqual([2, 3]);
    expect(Array.from(f.get('a').data)).toEqual([1, 2, 3, 4, 5, -6.5]);
    expect(Array.from(f.get('b').data)).toEqual([7]);
  });

  it('decodes F16 and BF16 to float32', () => {
    // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, 2^-24 = 0x0001; BF16: 1.0 = 0x3f80, -3.0 = 0xc040
    const bytes = raw({ h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] } }, 12, (v) => {
      [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3f80, 0xc040].forEach((h, i) => v.setUint16(2 * i, h, true));
    });
    const f = SafetensorsFile.parse(bytes);
    expect(Array.from(f.get('h').data)).toEqual([1, -2, 65504, 2 ** -24]);
    expect(Array.from(f.get('b').data)).toEqual([1, -3]);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it('refuses lying headers, naming the field or tensor', () => {
    const bad = (bytes: Uint8Array) => codeAndDetails(() => SafetensorsFile.parse(bytes, 'x.safetensors', { maxHeaderBytes: 4096, maxTensors: 3, maxTotalBytes: 64 }));
    expect(bad(new Uint8Array(5))).toMatchObject({ code: 'invalid_file', details: { field: 'header_length' } });
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
    expect(bad(huge)).toMatchObject({ code: 'invalid_file', details: { field: 'header_length' } });
    const past = new Uint8Array(16);
    new DataView(past.buffer).setBigUint64(0, 100n, true);
    expect(bad(past)).toMatchObject({ details: { field: 'header_length', headerLength: 100 } });
    expect(bad(raw('{"a": ', 0))).toMatchObject({ details: { field: 'header' } });
    expect(bad(raw([1, 2], 0))).toMatchObject({ details: { field: 'header' } });
    expect(bad(raw({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 8] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'dtype' } });
    expect(bad(raw({ w: { dtype: '__proto__', shape: [1], data_offsets: [0, 8] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'dtype' } });
    // integer buffers (e.g. position ids) are checked and listed, but not read as weights
    const ints = SafetensorsFile.parse(raw({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, w: { dtype: 'F64', shape: [1], data_offsets: [16, 24] } }, 24, (v) => v.setFloat64(16, 0.5, true)));
    expect(ints.names).toEqual(['ids', 'w']);
    expect(Array.from(ints.get('w').data)).toEqual([0.5]);
    expect(codeAndDetails(() => ints.get('ids'))).toMatchObject({ code: 'invalid_file', details: { tensor: 'ids', field: 'dtype', dtype: 'I64' } });
    expect(bad(raw({ w: { dtype: 'I64', shape: [2], data_offsets: [0, 8] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'data_offsets', expected: 16 } });
    expect(bad(raw({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'shape' } });
    expect(bad(raw({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'data_offsets', expected: 12, actual: 8 } });
    expect(bad(raw({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'data_offsets', dataBytes: 8 } });
    expect(bad(raw({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'data_offsets' } });
    expect(bad(raw({ w: { dtype: 'F32', shape: [2], data_offsets: ['0', 8] } }, 8))).toMatchObject({ details: { tensor: 'w', field: 'data_offsets' } });
    const overlap = raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12);
    expect(bad(overlap)).toMatchObject({ details: { tensor: 'b', overlaps: 'a' } });
    const many = Object.fromEntries(['a', 'b', 'c', 'd'].map((k, i) => [k, { dtype: 'F32', shape: [1], data_offsets: [4 * i, 4 * i + 4] }]));
    expect(bad(raw(many, 16))).toMatchObject({ details: { maxTensors: 3 } });
    expect(bad(raw({ a: { dtype: 'F32', shape: [20], data_offsets: [0, 80] } }, 80))).toMatchObject({ details: { tensor: 'a', maxTotalBytes: 64 } });
    expect(bad(raw({ __metadata__: { format: 3 } }, 0))).toMatchObject({ details: { field: '__metadata__.format' } });
    const ok = SafetensorsFile.parse(encodeSafetensors({ a: { shape: [1], data: [1] } }));
    expect(codeAndDetails(() => ok.get('missing'))).toMatchObject({ code: 'invalid_file', details: { tensor: 'missing' } });
  });
});

describe('readSafetensorsFolder', () => {
  it('reads model.safetensors, or the shards of model.safetensors.index.json', async () => {
    const one = tempDir();
    writeFileSync(path.join(one, 'model.safetensors'), encodeSafetensors({ w: { shape: [2], data: [1, 2] } }));
    expect(Array.from((await readSafetensorsFolder(one)).get('w').data)).toEqual([1, 2]);

    const dir = tempDir();
    writeFileSync(path.join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors({ a: { shape: [1], data: [3] } }));
    writeFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors({ b: { shape: [2], data: [4, 5] } }));
    const index = { metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } };
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    const w = await readSafetensorsFolder(dir);
    expect([...w.names].sort()).toEqual(['a', 'b']);
    expect(Array.from(w.get('b').data)).toEqual([4, 5]);
    await expect(Promise.resolve().then(() => w.get('c'))).rejects.toMatchObject({ code: 'invalid_file', details: { tensor: 'c' } });
  });

  it('refuses an index that lies: a missing tensor, a path outside the folder, a tensor in two shards, too many bytes', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 's1.safetensors'), encodeSafetensors({ a: { shape: [1], data: [3] } }));
    writeFileSync(path.join(dir, 's2.safetensors'), encodeSafetensors({ a: { shape: [1], data: [3] }, b: { shape: [1], data: [1] } }));
    const write = (map: Record<string, string>) => writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
    write({ a: 's1.safetensors', z: 's1.safetensors' });
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({ code: 'invalid_file', details: { tensor: 'z' } });
    write({ a: '../s1.safetensors' });
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({ code: 'invalid_file', details: { field: 'weight_map', tensor: 'a' } });
    write({ a: 's1.safetensors', b: 's2.safetensors' });
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({ code: 'invalid_file', details: { tensor: 'a' } });
    write({ a: 's1.safetensors' });
    await expect(readSafetensorsFolder(dir, { maxTotalBytes: 2, maxHeaderBytes: 8 })).rejects.toMatchObject({ code: 'invalid_file', details: { cap: 18 } });
    await expect(readSafetensorsFolder(tempDir())).rejects.toMatchObject({ code: 'invalid_file', details: { field: 'weights' } });
  });

  // a shard (or model.safetensors) that is a device or a pipe reports size 0: reading it "whole" never ends
  it.skipIf(process.platform === 'win32')('refuses a shard that is not a regular file (a symlink to /dev/zero, a FIFO), without reading it', async () => {
    const dir = tempDir();
    symlinkSync('/dev/zero', path.join(dir, 's1.safetensors'));
    execFileSync('mkfifo', [path.join(dir, 's2.safetensors')]);
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 's1.safetensors' } }));
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({ code: 'invalid_file', details: { source: path.join(dir, 's1.safetensors') } });
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 's2.safetensors' } }));
    await expect(readSafetensorsFolder(dir)).rejects.toMatchObject({ code: 'invalid_file', details: { source: path.join(dir, 's2.safetensors') } });
  }, 5000);
});
