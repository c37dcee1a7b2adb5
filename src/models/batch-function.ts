import * as tf from '@tensorflow/tfjs-core';
import { BackendError, ShapeMismatchError } from '../core/errors.js';
import type { HostTensor, ModelAdapter } from './model.js';

/** A batch of inputs as plain data, for black-box functions that know nothing of TF.js. */
export interface PlainBatch {
  /** Row-major values. */
  readonly data: Float32Array;
  /** [batch, ...features]. */
  readonly shape: readonly number[];
}

export interface BatchFunctionOptions {
  readonly name?: string;
  readonly inputShape?: readonly (number | null)[];
}

/**
 * A forward-only model from any async batch function: a remote API, a worker, an LLM scorer. The
 * function receives the batch as plain data and returns one output row per input row (an array of
 * rows, or a flat array of `batch × outputs` numbers).
 */
export function fromBatchFunction(
  fn: (batch: PlainBatch) => Promise<ArrayLike<number>[] | ArrayLike<number>>,
  opts: BatchFunctionOptions = {},
): ModelAdapter {
  const name = opts.name ?? 'batch-function';
  /** Calls the function on a plain batch and checks that it returned one output row per input row. */
  const forwardHost = async (data: Float32Array, shape: readonly number[]): Promise<HostTensor> => {
    const n = shape[0]!;
    let out: ArrayLike<number>[] | ArrayLike<number>;
    try {
      out = await fn({ data, shape });
    } catch (e) {
      throw new BackendError(`The batch function of model '${name}' failed: ${(e as Error).message}`, { model: name }, e);
    }
    if (Array.isArray(out) && out.length > 0 && typeof out[0] !== 'number') {
      const rows = out as ArrayLike<number>[];
      if (rows.length !== n) {
        throw new ShapeMismatchError(`The batch function of model '${name}' returned ${rows.length} rows for ${n} inputs`, { model: name });
      }
      const width = rows[0]!.length;
      const flat = new Float32Array(n * width);
      rows.forEach((r, i) => {
        if (r.length !== width) throw new ShapeMismatchError(`The batch function of model '${name}' returned ragged rows`, { model: name });
        flat.set(Array.from(r), i * width);
      });
      return { data: flat, shape: [n, width] };
    }
    const flat = Float32Array.from(out as ArrayLike<number>);
    if (flat.length % n !== 0) {
      throw new ShapeMismatchError(`The batch function of model '${name}' returned ${flat.length} numbers for ${n} rows`, { model: name });
    }
    return { data: flat, shape: [n, flat.length / n] };
  };
  return {
    name,
    inputShape: opts.inputShape ?? [null],
    capabilities: { gradients: false, hooks: false },
    async forward(x: tf.Tensor): Promise<tf.Tensor> {
      const out = await forwardHost(Float32Array.from((await x.data()) as Float32Array), x.shape);
      return tf.tensor2d(out.data, out.shape as [number, number]);
    },
    forwardHost,
    dispose: () => undefined,
  };
}
