// Kill-and-resume helpers for dataset jobs, shared by src/cli/commands/run.test.ts and bench/jobs-kill.ts.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ResultStore, TENSOR_DIR } from '../src/jobs/store.js';
import { ROOT } from './reference.js';

const BIN = path.join(ROOT, 'bin', 'attrib.js');

/** Tensors a store holds now (0 before it exists). */
export const storedTensors = async (store: string): Promise<number> => (await fs.readdir(path.join(store, TENSOR_DIR)).catch(() => [])).filter((f) => f.endsWith('.npy')).length;

/**
 * Starts `attrib ARGS…` and SIGKILLs it once its store holds `atRows` tensors (or lets it finish).
 * Just before the kill, the store is opened for reading here: `locked` is the error that refused it
 * (undefined when it opened).
 */
export function runAndKill(args: readonly string[], store: string, atRows: number): Promise<{ killed: boolean; code: number | null; locked: unknown }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: 'ignore' });
    let killed = false;
    let busy = false;
    let locked: unknown;
    const poll = setInterval(() => {
      if (busy || killed) return;
      busy = true;
      storedTensors(store)
        .then(async (n) => {
          if (n < atRows) return;
          locked = await ResultStore.read(store).then((s) => s.close(), (e: unknown) => e);
          killed = child.kill('SIGKILL');
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, 3);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ killed, code, locked });
    });
  });
}

/** Every column of every row but the timing ones, and each row's tensor bytes (base64), in item order. */
export async function storeContents(store: string): Promise<{ rows: Record<string, unknown>[]; tensors: string[] }> {
  const s = await ResultStore.read(store);
  try {
    const { rows } = await s.query('SELECT * EXCLUDE (elapsed_ms, finished_at) FROM results ORDER BY item');
    const tensors: string[] = [];
    for (const r of rows) tensors.push(Buffer.from(await fs.readFile(path.join(store, String(r['tensor'])))).toString('base64'));
    return { rows, tensors };
  } finally {
    s.close();
  }
}
