import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { InvalidArgumentError } from '../core/errors.js';
import type { MethodDescriptor } from '../methods.js';
import { ENGINES, type Engine } from '../io/load-model.js';
import type { FlagValue } from './args.js';

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

/**
 * The engine flag checked against the method: modified back-propagation (rules) runs on TF.js only,
 * so `auto` keeps TF.js for it and `onnx` is refused.
 */
export function engineFor(flag: FlagValue | undefined, methods: readonly MethodDescriptor[]): { engine?: Engine } {
  if (flag === undefined) return {}; // model.json on TF.js, .onnx on ONNX Runtime
  const engine = flag as Engine;
  if (!ENGINES.includes(engine)) throw new InvalidArgumentError(`Option '--engine' must be one of ${ENGINES.join(', ')}, got '${String(flag)}'`, { arg: 'engine', value: flag });
  const withRules = methods.find((d) => d.rules);
  if (withRules && engine === 'onnx') {
    throw new InvalidArgumentError(`Method '${withRules.id}' swaps activations during back-propagation, which runs on TF.js only: use --engine tfjs or auto`, { arg: 'engine', method: withRules.id });
  }
  return { engine: withRules && engine === 'auto' ? 'tfjs' : engine };
}
