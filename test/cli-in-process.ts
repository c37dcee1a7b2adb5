// `attrib` run through main() in the test's own process (no process start-up per call).
import * as tf from '@tensorflow/tfjs-core';
import { vi } from 'vitest';
import { main } from '../src/cli/main.js';

export interface InProcessRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly leaked: number;
}

/** Runs `attrib ...args` in this process, capturing stdout and stderr. */
export async function attribInProcess(...args: string[]): Promise<InProcessRun> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  try {
    const code = await main(args);
    return { code, stdout, stderr, ms: performance.now() - t0, leaked: tf.memory().numTensors - before };
  } finally {
    vi.restoreAllMocks();
  }
}
