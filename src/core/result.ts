import type * as tf from '@tensorflow/tfjs-core';
import type { Diagnostics, MethodId } from './types.js';

export type { Diagnostics };

/** A feature attribution: `values` always has the input's shape. The result owns its tensors. */
export class FeatureAttribution implements Disposable {
  readonly kind = 'feature' as const;
  constructor(
    readonly method: MethodId,
    readonly values: tf.Tensor,
    readonly diagnostics: Diagnostics,
  ) {}

  dispose(): void {
    if (!this.values.isDisposed) this.values.dispose();
    const s = this.diagnostics.stderr;
    if (s && !s.isDisposed) s.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export type AttributionResult = FeatureAttribution;
