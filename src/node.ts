// attrib/node: loaders that read the file system (Node only).
export { loadModel, readModelArtifacts } from './io/load-model.js';
export type { LoadModelOptions, ModelFileLimits } from './io/load-model.js';
export { fromOnnx } from './models/onnx/node.js';
export type { OnnxLoadOptions } from './models/onnx/node.js';
export { decodeImage, encodePng } from './io/image.js';
export type { ImageData01 } from './io/image.js';
export { ScoreCache } from './context/cache.js';
export { loadTransformer } from './io/load-transformer.js';
export type { LoadTransformerOptions } from './io/load-transformer.js';
export { readSafetensorsFolder } from './io/safetensors-folder.js';
