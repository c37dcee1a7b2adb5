import type * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from './errors.js';
import type { Diagnostics, MethodId } from './types.js';

export type { Diagnostics };

/** Values plus diagnostics; the result owns its tensors (`dispose()` or `using`). */
abstract class TensorAttribution<Id extends string = MethodId> implements Disposable {
  constructor(
    readonly method: Id,
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

/** The axes of a component attribution's scores after the batch axis. */
export type ComponentAxis = 'component' | 'layer' | 'head' | 'pos' | 'neuron';

/**
 * Scores per named model component (attention heads, MLP blocks, neurons, hook points): `values` is
 * `[batch, ...]` with one axis per entry of `axes`; along the `component` axis (when there is one)
 * entry k is `components[k]`. Produced by activation/attribution patching and logit attribution.
 */
export class ComponentAttribution extends TensorAttribution<string> {
  readonly kind = 'component' as const;
  constructor(
    method: string,
    /** Names of the components along the `component` axis (hook names, e.g. `blocks.3.attn.hook_z`). */
    readonly components: readonly string[],
    /** What each axis of `values` after the batch is. */
    readonly axes: readonly ComponentAxis[],
    values: tf.Tensor,
    diagnostics: Diagnostics,
  ) {
    super(method, values, diagnostics);
    assertAxes(values, axes.length + 1, 'ComponentAttribution', 'axes');
    const at = axes.indexOf('component');
    if (at >= 0) assertAxisLength(values, at + 1, components.length, 'ComponentAttribution', 'components');
  }
}

/**
 * Training-data attribution: `values` is `[test, train]`, the influence of each training example on
 * each test example (TRAK, TracIn, influence functions). `trainIds` / `testIds` name the examples
 * when given (default: their indices).
 */
export class DataAttribution extends TensorAttribution<string> {
  readonly kind = 'data' as const;
  constructor(
    method: string,
    values: tf.Tensor,
    diagnostics: Diagnostics,
    readonly trainIds?: readonly (string | number)[],
    readonly testIds?: readonly (string | number)[],
  ) {
    super(method, values, diagnostics);
    assertAxes(values, 2, 'DataAttribution', 'values');
    if (testIds) assertAxisLength(values, 0, testIds.length, 'DataAttribution', 'testIds');
    if (trainIds) assertAxisLength(values, 1, trainIds.length, 'DataAttribution', 'trainIds');
  }
}

/** A span of the context an answer was generated from: characters [start, end) of source `source`. */
export interface SourceSpan {
  /** Which source document (or message) the span is in. */
  readonly source: string;
  readonly start: number;
  readonly end: number;
  /** The span's text, when kept. */
  readonly text?: string;
}

/**
 * Context attribution: `values` is `[batch, sources]`, the score of each context span for each
 * generated answer (or answer part), e.g. by ablating spans and fitting a sparse surrogate.
 */
export class ContextAttribution extends TensorAttribution<string> {
  readonly kind = 'context' as const;
  constructor(
    method: string,
    /** The spans, in the order of `values`' last axis. */
    readonly sources: readonly SourceSpan[],
    values: tf.Tensor,
    diagnostics: Diagnostics,
  ) {
    super(method, values, diagnostics);
    assertAxes(values, 2, 'ContextAttribution', 'values');
    assertAxisLength(values, 1, sources.length, 'ContextAttribution', 'sources');
    for (const [i, s] of sources.entries()) {
      if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end)) {
        throw new ShapeMismatchError(`Argument 'sources' passed to 'ContextAttribution' must hold spans with integer 0 ≤ start ≤ end; span ${i} is [${s.start}, ${s.end})`, {
          arg: 'sources',
          fn: 'ContextAttribution',
          index: i,
        });
      }
    }
  }
}

/** Every kind of attribution result; `kind` narrows it. */
export type AttributionResult = FeatureAttribution | LayerAttribution | ComponentAttribution | DataAttribution | ContextAttribution;

/** The kinds of attribution results. */
export const ATTRIBUTION_KINDS = ['feature', 'layer', 'component', 'data', 'context'] as const;
export type AttributionKind = (typeof ATTRIBUTION_KINDS)[number];

/** Guards that narrow an attribution result by its kind. */
export const isFeatureAttribution = (r: AttributionResult): r is FeatureAttribution => r.kind === 'feature';
export const isLayerAttribution = (r: AttributionResult): r is LayerAttribution => r.kind === 'layer';
export const isComponentAttribution = (r: AttributionResult): r is ComponentAttribution => r.kind === 'component';
export const isDataAttribution = (r: AttributionResult): r is DataAttribution => r.kind === 'data';
export const isContextAttribution = (r: AttributionResult): r is ContextAttribution => r.kind === 'context';

function assertAxes(values: tf.Tensor, rank: number, fn: string, arg: string): void {
  if (values.rank !== rank) {
    throw new ShapeMismatchError(`Argument '${arg}' passed to '${fn}' must give values of rank ${rank}, got shape [${values.shape.join(', ')}]`, {
      arg,
      fn,
      expected: rank,
      actual: values.shape,
    });
  }
}

function assertAxisLength(values: tf.Tensor, axis: number, length: number, fn: string, arg: string): void {
  if (values.shape[axis] !== length) {
    throw new ShapeMismatchError(`Argument '${arg}' passed to '${fn}' must have ${values.shape[axis]} entries (axis ${axis} of values [${values.shape.join(', ')}]), got ${length}`, {
      arg,
      fn,
      expected: values.shape[axis],
      actual: length,
    });
  }
}

/** Adds the attributed targets to a diagnostics object when there are indices to report. */
export function withTargets<D extends object>(d: D, targets: number[] | undefined): D & { targets?: readonly number[] } {
  return targets ? { ...d, targets } : d;
}
