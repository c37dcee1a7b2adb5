import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from './npy.js';
import { NpyRowReader } from './npy-rows.js';

const dir = mkdtempSync(path.join(tmpdir(), 'attrib-npy-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A version-1 .npy with this header dict and payload (the header may lie about the payload). */
function npy(descr: string, shape: string, payload: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((11 + header.length) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(payload, 10 + header.length);
  return out;
}

const file = (name: string, bytes: Uint8Array): string => {
  const f = path.join(dir, name);
  writeFileSync(f, bytes);
  return f;
};

const open = (name: string, bytes: Uint8Array) => NpyRowReader.open(file(name, bytes));

describe('NpyRowReader', () => {
  it('reads row ranges equal to parseNpy’s rows, for every dtype and byte order', async () => {
    const n = 20;
    const values = Float64Array.from({ length: n * 3 }, (_, i) => (i % 7) - 3 + i / 8);
    const cases: [string, number, (dv: DataView, i: number, v: number) => void][] = [
      ['<f4', 4, (dv, i, v) => dv.setFloat32(i * 4, v, true)],
      ['>f4', 4, (dv, i, v) => dv.setFloat32(i * 4, v, false)],
      ['<f8', 8, (dv, i, v) => dv.setFloat64(i * 8, v + 1e-9, true)], // narrowed to float32 as parseNpy does
      ['<i4', 4, (dv, i, v) => dv.setInt32(i * 4, Math.round(v), true)],
      ['<i8', 8, (dv, i, v) => dv.setBigInt64(i * 8, BigInt(Math.round(v)), true)],
      ['|u1', 1, (dv, i, v) => dv.setUint8(i, Math.abs(Math.round(v)))],
    ];
    for (const [descr, size, put] of cases) {
      const payload = new Uint8Array(n * 3 * size);
      const dv = new DataView(payload.buffer);
      values.forEach((v, i) => put(dv, i, v));
      const bytes = npy(descr, `(${n}, 3)`, payload);
      const whole = parseNpy(bytes);
      const reader = await open(`ok${descr.replace(/\W/g, '_')}.npy`, bytes);
      try {
        expect(reader.shape, descr).toEqual([n, 3]);
        expect(Array.from(await reader.readRows(5, 9)), descr).toEqual(Array.from(whole.data.slice(15, 27)));
        expect(Array.from(await reader.readRows(0, n)), descr).toEqual(Array.from(whole.data));
        expect(await reader.readRows(7, 7), descr).toHaveLength(0);
        expect(reader.peakBytes, descr).toBe(n * 3 * (size + 8)); // the largest read: all rows, file bytes + float64
      } finally {
        await reader.close();
      }
    }
  });

  it('refuses bad files with typed errors: truncated, trailing bytes, lying header, dtype, magic, 0-d, missing', async () => {
    const good = encodeNpy({ shape: [10, 4], dtype: 'float32', data: new Float32Array(40).fill(1) });
    const f4 = (count: number) => new Uint8Array(count * 4);
    mkdirSync(path.join(dir, 'folder.npy'), { recursive: true });
    const cases: [string, Uint8Array | string, string][] = [
      ['truncated.npy', good.subarray(0, good.length - 5), 'is truncated'],
      ['cut-header.npy', good.subarray(0, 30), 'header length'],
      ['trailing.npy', new Uint8Array([...good, 0, 0, 0, 0]), 'trailing bytes'],
      ['lies-shape.npy', npy('<f4', '(1000000, 4)', f4(40)), 'is truncated'], // header claims 4 MB, 160 bytes follow
      ['lies-dtype.npy', npy('<f8', '(10, 4)', f4(40)), 'is truncated'], // float32 payload under a float64 header
      ['complex.npy', npy('<c8', '(10, 4)', f4(80)), "dtype 'c8'"],
      ['unicode.npy', npy('<U4', '(10,)', f4(40)), "dtype 'U4'"],
      ['huge-row.npy', npy('<f4', '(1, 536870912)', f4(0)), 'exceeds the limit'],
      ['scalar.npy', npy('<f4', '()', f4(1)), '0-d array'],
      ['overflow.npy', npy('<f4', '(99999999999, 99999999999)', f4(0)), 'too many elements'],
      ['magic.npy', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 'bad magic'],
      ['empty.npy', new Uint8Array(0), 'bad magic'],
      ['missing.npy', 'missing', 'ENOENT'],
      ['folder.npy', 'folder', 'not a regular file'],
    ];
    for (const [name, bytes, says] of cases) {
      const at = typeof bytes === 'string' ? path.join(dir, name) : file(name, bytes);
      const err = await NpyRowReader.open(at).then(
        (r) => r.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(err, name).toMatchObject({ code: 'invalid_file' });
      expect((err as Error).message, name).toContain(says);
    }
    const reader = await open('good.npy', good);
    try {
      for (const [s, e] of [[-1, 2], [3, 2], [0, 11], [0.5, 2]]) await expect(reader.readRows(s!, e!)).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'start' } });
    } finally {
      await reader.close();
    }
    const big = await open('int64.npy', npy('<i8', '(2,)', new Uint8Array(new BigInt64Array([1n, 2n ** 40n]).buffer)));
    try {
      await expect(big.readRows(0, 2)).rejects.toMatchObject({ code: 'invalid_file', message: expect.stringContaining('does not fit in int32') });
    } finally {
      await big.close();
    }
  });
});
