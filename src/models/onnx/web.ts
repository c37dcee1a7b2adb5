import * as ort from 'onnxruntime-web';
import { ModelLoadError } from '../../core/errors.js';
import type { ModelAdapter } from '../model.js';
import { fromOnnxSession, type OnnxModelOptions } from './session.js';

/**
 * Loads an `.onnx` model (URL or bytes) into onnxruntime-web and wraps it as a forward-only adapter.
 * Configure `ort.env.wasm` (wasmPaths, numThreads) in your application before the first call.
 * @throws {ModelLoadError} `invalid_model` when the model cannot be fetched or parsed.
 */
export async function fromOnnx(model: string | Uint8Array, opts: OnnxModelOptions = {}): Promise<ModelAdapter> {
  let session: ort.InferenceSession;
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  } catch (e) {
    const what = typeof model === 'string' ? `'${model}'` : 'the given bytes';
    throw new ModelLoadError(`Cannot load ONNX model from ${what}: ${(e as Error).message.split('\n')[0]}`, { model: typeof model === 'string' ? model : 'bytes' }, e);
  }
  return fromOnnxSession(session, ort, { name: typeof model === 'string' ? model : 'onnx-model', ...opts });
}
