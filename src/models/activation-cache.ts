import type * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../core/errors.js';
import type { ActivationCacheLike } from './model.js';

/** Layer outputs by hook name. The cache owns its tensors: `dispose()` (or `using`) releases them. */
export class ActivationCache implements ActivationCacheLike {
  constructor(private readonly acts: Map<string, tf.Tensor>) {}

  get names(): string[] {
    return [...this.acts.keys()];
  }

  has(name: string): boolean {
    return this.acts.has(name);
  }

  get(name: string): tf.Tensor {
    const t = this.acts.get(name);
    if (!t) throw new InvalidArgumentError(`Argument 'name' passed to 'ActivationCache.get' names no cached activation: '${name}'; cached: ${this.names.join(', ')}`, { arg: 'name', name });
    return t;
  }

  dispose(): void {
    for (const t of this.acts.values()) if (!t.isDisposed) t.dispose();
    this.acts.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
