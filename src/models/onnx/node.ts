import { promises as fs } from 'node:fs';
import type * as Ort from 'onnxruntime-node';
import { ModelLoadError } from '../../core/errors.js';
import type { ModelAdapter } from '../model.js';
import { importPeer } from '../peers.js';
import { diskGraphStore, resolveCacheDir, type CacheDirOption } from './compile-cache.js';
import { onnxAdapter } from './differentiable.js';
import type { OnnxModelOptions } from './session.js';
import { decodeModel, encodeModel } from './grad/compile.js';
import { fixInputs, type ConstantInput } from './rewrite/fix-inputs.js';
import { inlineStaticIfs } from './rewrite/inline-if.js';

export interface OnnxLoadOptions extends OnnxModelOptions {
  /** Threads ORT may use inside one operator. Default: ORT's own choice. */
  readonly intraOpNumThreads?: number;
  /**
   * Let ORT's worker threads busy-wait for the next operator. Default false: attrib interleaves ORT
   * runs with TF.js work and with other sessions of the same model (forward, backward, hooks), and
   * a spinning thread then holds a core they need (IG, 50 steps × 8 images: 58–78 ms without
   * spinning, 72–111 ms with it, on 2 cores).
   */
  readonly spinning?: boolean;
  /**
   * Folder where compiled backward graphs are kept across processes (keyed by a hash of the model's
   * bytes, the input's row shape and the options), or `false` for none. Default: `ATTRIB_CACHE_DIR`
   * (`off` turns it off), else `$XDG_CACHE_HOME/attrib`, else `~/.cache/attrib`. A graph read from it
   * skips the compile; only its session is created (see `diagnostics.compileMs`).
   */
  readonly cacheDir?: CacheDirOption;
  /** Metadata of the model the bytes were exported from (TF.js), kept beside the file's own (`ModelAdapter.metadata`). */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Inputs fixed at load (name → value, or values row-major): they become constants of the graph,
   * so an If they decide (Silero VAD's sample rate `sr`) is inlined and gradients flow through the
   * branch taken. Such inputs are no longer passed at call time.
   */
  readonly constantInputs?: Readonly<Record<string, ConstantInput>>;
}

/**
 * Loads an `.onnx` model (path or bytes) into onnxruntime-node. Differentiable (gradients through a
 * compiled backward graph) when every op between its input and output has a gradient rule; otherwise
 * forward-only, and gradient methods say which op stops them.
 * @throws {ModelLoadError} `invalid_model` when the file is missing or not a valid ONNX model.
 */
export async function fromOnnx(model: string | Uint8Array, opts: OnnxLoadOptions = {}): Promise<ModelAdapter> {
  const ort = (await importPeer('onnxruntime-node')) as typeof Ort;
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    try {
      bytes = new Uint8Array(await fs.readFile(model));
    } catch (e) {
      throw new ModelLoadError(`Cannot load ONNX model from '${model}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { model }, e);
    }
  } else bytes = model;
  if (opts.constantInputs && Object.keys(opts.constantInputs).length > 0) {
    let proto;
    try {
      proto = decodeModel(bytes);
    } catch (e) {
      throw new ModelLoadError(`Cannot decode ONNX model '${typeof model === 'string' ? model : 'bytes'}': ${(e as Error).message}`, {}, e);
    }
    // the Ifs the fixed inputs decide are inlined in the model ORT runs too: their branches' tensors become hook points and outputs
    bytes = encodeModel(inlineStaticIfs(fixInputs(proto, opts.constantInputs, opts.inputName, 'fromOnnx')).model);
  }
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    // see `spinning`
    ...(opts.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    ...(opts.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: opts.intraOpNumThreads }),
  };
  const cacheDir = resolveCacheDir(opts.cacheDir);
  // MLAS's NCHWc kernels exist on x86 only
  return onnxAdapter(bytes, ort as never, {
    name: typeof model === 'string' ? model : 'onnx-model',
    ...opts,
    sessionOptions,
    // small gradient runs on one thread (see OnnxAdapterOptions), unless the caller chose the threads
    ...(opts.intraOpNumThreads === undefined ? { smallRunSessionOptions: { ...sessionOptions, intraOpNumThreads: 1 } } : {}),
    blockedLayout: process.arch === 'x64' || process.arch === 'ia32',
    ...(cacheDir ? { graphStore: diskGraphStore(cacheDir) } : {}),
  });
}
