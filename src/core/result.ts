import type * as tf from '@tensorflow/tfjs-core';
import type { MethodId } from './types.js';

export interface Diagnostics {
  /** Model rows evaluated (a forward row, or a forward+backward row). */
  readonly evaluations: number;
  readonly elapsedMs: number;
  /** True when an anytime method was stopped by `maxEvaluations`. */
  readonly truncated: boolean;
  /** Completeness gap per row, Σ attribution − (F(x) − F(baseline)), when the method defines one. */
  readonly convergenceDelta?: Float32Array;
  /** Standard error of a sampled estimate, input's shape. Owned by the result. */
  readonly stderr?: tf.Tensor;
  /** The targets that were attributed, one per row, when they were indices. */
  readonly targets?: readonly number[];
}

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
