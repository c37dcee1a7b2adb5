import * as ort from 'onnxruntime-node';
import { ModelLoadError } from '../../core/errors.js';
import type { ModelAdapter } from '../model.js';
import { fromOnnxSession, type OnnxModelOptions } from './session.js';

export interface OnnxLoadOptions extends OnnxModelOptions {
  /** Threads ORT may use inside one operator. Default: ORT's own choice. */
  readonly intraOpNumThreads?: number;
}

/**
 * Loads an `.onnx` model (path or bytes) into onnxruntime-node and wraps it as a forward-only adapter.
 * @throws {ModelLoadError} `invalid_model` when the file is missing or not a valid ONNX model.
 */
export async function fromOnnx(model: string | Uint8Array, opts: OnnxLoadOptions = {}): Promise<ModelAdapter> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    ...(opts.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: opts.intraOpNumThreads }),
  };
  let session: ort.InferenceSession;
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
  } catch (e) {
    const what = typeof model === 'string' ? `'${model}'` : 'the given bytes';
    throw new ModelLoadError(`Cannot load ONNX model from ${what}: ${(e as Error).message.split('\n')[0]}`, { model: typeof model === 'string' ? model : 'bytes' }, e);
  }
  return fromOnnxSession(session, ort, { name: typeof model === 'string' ? model : 'onnx-model', ...opts });
}
