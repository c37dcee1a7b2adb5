// The weights a transformer is built from, by Hugging Face tensor name (io/ reads them from safetensors).

/** One weight tensor as float32, row-major. */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Named weights; `get` throws a typed error naming a missing tensor. */
export interface WeightStore {
  readonly names: readonly string[];
  has(name: string): boolean;
  get(name: string): WeightTensor;
}
