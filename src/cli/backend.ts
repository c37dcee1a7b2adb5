import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { InvalidArgumentError } from '../core/errors.js';

export const CLI_BACKENDS = ['wasm', 'cpu'] as const;

/** The CLI (only) chooses the TF.js backend: wasm by default, cpu as fallback. */
export async function setupBackend(name: string | undefined, quiet: boolean): Promise<string> {
  const want = name ?? 'wasm';
  if (!(CLI_BACKENDS as readonly string[]).includes(want)) {
    throw new InvalidArgumentError(`Option '--backend' must be one of ${CLI_BACKENDS.join(', ')}, got '${want}'`, { arg: 'backend', value: want });
  }
  // Production mode: no debug checks, and no "install tfjs-node" banner on stderr (CLI only).
  tf.enableProdMode();
  {
    if (await tf.setBackend(want).catch(() => false)) {
      await tf.ready();
      return want;
    }
    if (want === 'wasm' && (await tf.setBackend('cpu'))) {
      if (!quiet) process.stderr.write('attrib: the wasm backend failed to start; using cpu\n');
      await tf.ready();
      return 'cpu';
    }
  }
  throw new InvalidArgumentError(`TF.js backend '${want}' could not be initialised`, { arg: 'backend', value: want });
}
