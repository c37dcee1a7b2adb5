import type * as tf from '@tensorflow/tfjs-core';
import type { Diagnostics, MethodId } from './types.js';

export type { Diagnostics };

/** Values plus diagnostics; the result owns its tensors (`dispose()` or `using`). */
abstract class TensorAttribution implements Disposable {
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

/** A feature attribution: `values` always has the input's shape. */
export class FeatureAttribution extends TensorAttribution {
  readonly kind = 'feature' as const;
}

/**
 * An attribution to the units of one layer (Captum's layer methods): `values` has the layer's output
 * shape `[batch, ...]` (GradCAM: the layer's spatial shape with one channel, or the input's spatial
 * shape when upsampled). `layer` is the hook name.
 */
export class LayerAttribution extends TensorAttribution {
  readonly kind = 'layer' as const;
  constructor(method: MethodId, readonly layer: string, values: tf.Tensor, diagnostics: Diagnostics) {
    super(method, values, diagnostics);
  }
}

export type AttributionResult = FeatureAttribution | LayerAttribution;

/** Adds the attributed targets to a diagnostics object when there are indices to report. */
export function withTargets<D extends object>(d: D, targets: number[] | undefined): D & { targets?: readonly number[] } {
  return targets ? { ...d, targets } : d;
}
