import * as tf from '@tensorflow/tfjs-core';
import { CapabilityError, InvalidArgumentError, isAttributionError } from '../core/errors.js';
import { importPeer, type PeerImporter } from '../models/peers.js';
import type { MethodDescriptor } from '../methods.js';
import { ENGINES, type Engine } from '../io/load-model.js';
import type { FlagValue } from './args.js';

export const CLI_BACKENDS = ['wasm', 'cpu'] as const;

const BACKEND_PACKAGES = { wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu' } as const;

/**
 * Registers a TF.js backend by importing its package (an optional peer). False when the package is
 * missing; other load failures propagate.
 */
async function registerBackend(name: (typeof CLI_BACKENDS)[number], importer?: PeerImporter): Promise<boolean> {
  try {
    await importPeer(BACKEND_PACKAGES[name], importer);
    return true;
  } catch (e) {
    if (isAttributionError(e) && e.details['reason'] === 'not_installed') return false;
    throw e;
  }
}

/**
 * The CLI (only) chooses the TF.js backend: wasm by default, cpu as fallback (each from its
 * optional package, imported here).
 * @throws {CapabilityError} `capability_missing` naming the packages when neither can be imported.
 */
export async function setupBackend(name: string | undefined, quiet: boolean, importer?: PeerImporter): Promise<string> {
  const want = name ?? 'wasm';
  if (!(CLI_BACKENDS as readonly string[]).includes(want)) {
    throw new InvalidArgumentError(`Option '--backend' must be one of ${CLI_BACKENDS.join(', ')}, got '${want}'`, { arg: 'backend', value: want });
  }
  const hasWant = await registerBackend(want as (typeof CLI_BACKENDS)[number], importer);
  const hasCpu = want === 'cpu' ? hasWant : await registerBackend('cpu', importer);
  if (!hasWant && !hasCpu) {
    const pkgs = want === 'cpu' ? [BACKEND_PACKAGES.cpu] : [BACKEND_PACKAGES.wasm, BACKEND_PACKAGES.cpu];
    const install = `npm install ${pkgs[0]}`;
    throw new CapabilityError(`The TF.js backend '${want}' needs the package '${pkgs[0]}', which is not installed${pkgs.length > 1 ? ` (nor is '${pkgs[1]}' for the cpu fallback)` : ''}. Install it with: ${install}`, {
      package: pkgs[0],
      install,
      backend: want,
    });
  }
  // Production mode: no debug checks, and no "install tfjs-node" banner on stderr (CLI only).
  tf.enableProdMode();
  {
    if (hasWant && (await tf.setBackend(want).catch(() => false))) {
      await tf.ready();
      return want;
    }
    if (want === 'wasm' && hasCpu && (await tf.setBackend('cpu'))) {
      if (!quiet) process.stderr.write(`attrib: the wasm backend ${hasWant ? 'failed to start' : `is not installed (${BACKEND_PACKAGES.wasm})`}; using cpu\n`);
      await tf.ready();
      return 'cpu';
    }
  }
  throw new InvalidArgumentError(`TF.js backend '${want}' could not be initialised`, { arg: 'backend', value: want });
}

/**
 * The engine flag checked against the method: modified back-propagation (rules) runs on TF.js only,
 * so `auto` keeps TF.js for it and `onnx` is refused. `threads` (the `--threads` flag, already
 * range-checked by its spec) goes along to `loadModel`.
 */
export function engineFor(flag: FlagValue | undefined, methods: readonly MethodDescriptor[], threads?: FlagValue): { engine: Engine; threads?: number } {
  const engine = (flag ?? 'auto') as Engine;
  if (!ENGINES.includes(engine)) throw new InvalidArgumentError(`Option '--engine' must be one of ${ENGINES.join(', ')}, got '${String(flag)}'`, { arg: 'engine', value: flag });
  const withRules = methods.find((d) => d.rules);
  if (withRules && engine === 'onnx') {
    throw new InvalidArgumentError(`Method '${withRules.id}' swaps activations during back-propagation, which runs on TF.js only: use --engine tfjs or auto`, { arg: 'engine', method: withRules.id });
  }
  return { engine: withRules && engine === 'auto' ? 'tfjs' : engine, ...(typeof threads === 'number' ? { threads } : {}) };
}
