import * as ort from 'onnxruntime-web';
import { ModelLoadError } from '../../core/errors.js';
import type { ModelAdapter } from '../model.js';
import { onnxAdapter } from './differentiable.js';
import type { OnnxModelOptions } from './session.js';

/**
 * Loads an `.onnx` model (URL or bytes) into onnxruntime-web; differentiable under the same
 * conditions as the Node loader. Configure `ort.env.wasm` (wasmPaths, numThreads) before the first call.
 * @throws {ModelLoadError} `invalid_model` when the model cannot be fetched or parsed.
 */
export async function fromOnnx(model: string | Uint8Array, opts: OnnxModelOptions = {}): Promise<ModelAdapter> {
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    let res: Response;
    try {
      res = await fetch(model);
    } catch (e) {
      throw new ModelLoadError(`Cannot fetch ONNX model '${model}': ${(e as Error).message}`, { model }, e);
    }
    if (!res.ok) throw new ModelLoadError(`Cannot fetch ONNX model '${model}': HTTP ${res.status}`, { model, status: res.status });
    bytes = new Uint8Array(await res.arrayBuffer());
  } else bytes = model;
  return onnxAdapter(bytes, ort as never, { name: typeof model === 'string' ? model : 'onnx-model', ...opts });
}
