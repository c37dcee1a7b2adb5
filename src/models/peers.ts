// Optional peer packages (onnxruntime-node, @tensorflow/tfjs-converter, the TF.js backends) are
// imported when first needed, never at module load: a program that does not use them runs without
// them installed.
import { CapabilityError } from '../core/errors.js';

/** The optional peers attrib can use, and what each one is for. */
export const OPTIONAL_PEERS = {
  'onnxruntime-node': 'the ONNX Runtime engine (.onnx files, and the fast engine for TF.js layers models)',
  '@tensorflow/tfjs-converter': 'TF.js graph models (model.json in graph-model format)',
  '@tensorflow/tfjs-backend-wasm': "the TF.js 'wasm' backend",
  '@tensorflow/tfjs-backend-cpu': "the TF.js 'cpu' backend",
  '@duckdb/node-api': 'the results store of dataset jobs (attrib run, attrib results)',
  bullmq: 'queued dataset jobs on Redis (attrib run --queue, attrib worker)',
} as const;

export type OptionalPeer = keyof typeof OPTIONAL_PEERS;

/** Imports a module by name (the default is the runtime's `import()`); injectable for tests. */
export type PeerImporter = (specifier: string) => Promise<unknown>;

const nativeImport: PeerImporter = (specifier) => import(specifier);

/**
 * Imports an optional peer. The caller casts the module to its (type-only imported) shape.
 * @throws {CapabilityError} `capability_missing` naming the package and its install command, when it
 *   is not installed or does not load; `details.package` and `details.install` carry both.
 */
export async function importPeer(name: OptionalPeer, importer: PeerImporter = nativeImport): Promise<unknown> {
  try {
    return await importer(name);
  } catch (e) {
    const install = `npm install ${name}`;
    const code = (e as { code?: unknown } | null)?.code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    const why = missing ? 'is not installed' : `could not be loaded (${String((e as Error)?.message ?? e).split('\n')[0]})`;
    throw new CapabilityError(
      `The optional package '${name}' ${why}: it provides ${OPTIONAL_PEERS[name]}. Install it with: ${install}`,
      { package: name, install, reason: missing ? 'not_installed' : 'load_failed' },
      e,
    );
  }
}

/** Whether an optional peer can be imported (it is imported once to find out). */
export async function hasPeer(name: OptionalPeer, importer: PeerImporter = nativeImport): Promise<boolean> {
  try {
    await importer(name);
    return true;
  } catch {
    return false;
  }
}
