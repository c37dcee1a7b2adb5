// Type-level tests: checked by `tsc --noEmit` (npm test runs it first); the runtime part is trivial.
import { describe, expectTypeOf, it } from 'vitest';
import type * as tf from '@tensorflow/tfjs-core';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { KernelShap } from '../src/attr/perturbation/kernel-shap.js';
import { fromBatchFunction } from '../src/models/batch-function.js';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import type { FeatureAttribution } from '../src/core/result.js';
import type { DifferentiableModel, ModelAdapter } from '../src/models/model.js';

describe('types', () => {
  it('gradient methods take only differentiable models; perturbation methods take any', () => {
    const blackBox: ModelAdapter = fromBatchFunction(async () => [[0]]);
    const diff: DifferentiableModel = fromFunction((x) => x);
    // @ts-expect-error a forward-only model is rejected at compile time
    const bad = () => new IntegratedGradients(blackBox);
    // @ts-expect-error likewise for Saliency
    const bad2 = () => new Saliency(blackBox);
    expectTypeOf(bad).toBeFunction();
    expectTypeOf(bad2).toBeFunction();
    expectTypeOf(new KernelShap(blackBox)).toHaveProperty('attribute');
    expectTypeOf(new IntegratedGradients(diff).attribute).returns.resolves.toEqualTypeOf<FeatureAttribution>();
  });

  it('results narrow on kind and carry the input-shaped values', () => {
    expectTypeOf<FeatureAttribution['kind']>().toEqualTypeOf<'feature'>();
    expectTypeOf<FeatureAttribution['values']>().toEqualTypeOf<tf.Tensor>();
  });

  it('targets: index, indices, auto or a function; options are checked', () => {
    const ig = new IntegratedGradients(fromFunction((x) => x));
    type Opts = Parameters<typeof ig.attribute>[1];
    expectTypeOf<{ target: 'auto' }>().toMatchTypeOf<Opts>();
    expectTypeOf<{ target: number[]; steps: number; rule: 'gauss-legendre' }>().toMatchTypeOf<Opts>();
    // @ts-expect-error unknown rule names do not type-check
    const o: Opts = { target: 0, rule: 'simpson' };
    expectTypeOf(o).not.toBeNever();
  });
});
