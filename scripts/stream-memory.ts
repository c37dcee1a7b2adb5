// Peak RSS of `attrib data` as the training set grows (issue 16: memory bounded independently of n).
// Tiles the wine training set (test/fixtures/data) to n rows of 13 float32 features, writes it as .npy,
// and runs `attrib data --method grad-dot` with 2 test examples in a fresh process per n; prints the
// peak RSS and the .npy size. Run: `nice npx tsx scripts/stream-memory.ts [n1,n2,…]` (default 50k,200k,800k).
// The scores (2 × n float32/float64) still grow with n; everything else should not.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeNpy, parseNpy } from '../src/io/npy.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const data = (f: string) => parseNpy(new Uint8Array(readFileSync(path.join(ROOT, 'test', 'fixtures', 'data', f))));
const [x, y, tx, ty] = ['arrays/train-x.npy', 'arrays/train-y.npy', 'arrays/test-x.npy', 'arrays/test-y.npy'].map(data) as [ReturnType<typeof data>, ReturnType<typeof data>, ReturnType<typeof data>, ReturnType<typeof data>];
const sizes = (process.argv[2] ?? '50000,200000,800000').split(',').map(Number);
const dir = mkdtempSync(path.join(tmpdir(), 'attrib-stream-memory-'));
try {
  writeFileSync(path.join(dir, 'test-x.npy'), encodeNpy({ shape: [2, 13], dtype: 'float32', data: tx.data.slice(0, 26) }));
  writeFileSync(path.join(dir, 'test-y.npy'), encodeNpy({ shape: [2], dtype: 'int32', data: ty.data.slice(0, 2) }));
  for (const n of sizes) {
    const xs = new Float32Array(n * 13);
    const ys = new Int32Array(n);
    for (let i = 0; i < n; i++) xs.set(x.data.subarray((i % 128) * 13, (i % 128) * 13 + 13), i * 13), (ys[i] = y.data[i % 128]!);
    writeFileSync(path.join(dir, 'train-x.npy'), encodeNpy({ shape: [n, 13], dtype: 'float32', data: xs }));
    writeFileSync(path.join(dir, 'train-y.npy'), encodeNpy({ shape: [n], dtype: 'int32', data: ys }));
    const args = ['data', '--model', path.join(ROOT, 'test/fixtures/data/models/lr.onnx'), '--train-x', path.join(dir, 'train-x.npy'), '--train-y', path.join(dir, 'train-y.npy'), '--test-x', path.join(dir, 'test-x.npy'), '--test-y', path.join(dir, 'test-y.npy'), '--method', 'grad-dot', '--quiet', '--out', path.join(dir, 'scores.npy')];
    const t0 = Date.now();
    const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join(ROOT, 'bin', 'attrib.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`attrib data failed: ${run.stderr}`);
    const rss = Number(run.stderr.trim().split('\n').pop());
    console.log(`n = ${n}: train-x.npy ${(statSync(path.join(dir, 'train-x.npy')).size / 2 ** 20).toFixed(1)} MiB, scores ${((n * 2 * 12) / 2 ** 20).toFixed(1)} MiB, peak RSS ${(rss / 1024).toFixed(0)} MiB, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
