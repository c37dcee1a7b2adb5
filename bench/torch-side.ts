// The PyTorch side of the Captum table: bench/captum_torch.py (Debian's python3-torch and
// python3-onnx) runs as a child process and times one call per request, so the bench can alternate
// its own calls with PyTorch's on the same machine state. Absent PyTorch, the table keeps only the
// recorded Captum range.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../test/reference.js';

const PYTHON = process.env['BENCH_PYTHON'] ?? '/usr/bin/python3';

/** A running bench/captum_torch.py: `time(method)` is the milliseconds of one PyTorch call. */
export interface TorchSide {
  time(method: string): Promise<number>;
  close(): void;
}

/** Starts the PyTorch side on `threads` threads, or returns undefined when PyTorch is not installed. */
export async function startTorchSide(threads: number): Promise<TorchSide | undefined> {
  if (process.env['BENCH_TORCH'] === '0') return undefined;
  if (spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status !== 0) return undefined;
  const child = spawn(PYTHON, [path.join(ROOT, 'bench', 'captum_torch.py'), String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error(`bench/captum_torch.py ended early (exit ${child.exitCode ?? '?'})`);
    return r.value;
  };
  if ((await next()) !== 'ready') throw new Error('bench/captum_torch.py did not start');
  return {
    async time(method: string): Promise<number> {
      child.stdin.write(`${method}\n`);
      return Number(await next());
    },
    close(): void {
      child.stdin.end('quit\n');
    },
  };
}
