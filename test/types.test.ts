// Type-level tests: checked by `tsc --noEmit` (npm test runs it first); the runtime part is trivial.
import { describe, expectTypeOf, it } from 'vitest';
import type * as tf from '@tensorflow/tfjs-core';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { KernelShap } from '../src/attr/perturbation/kernel-shap.js';
import { fromBatchFunction } from '../src/models/batch-function.js';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import type { FeatureAttribution } from '../src/core/result.js';
import type { DifferentiableModel, HookedModel, ModelAdapter } from '../src/models/model.js';
import type { AttributionResult, ComponentAttribution, ContextAttribution, DataAttribution, LayerAttribution } from '../src/core/result.js';
import type { AttributionJson } from '../src/io/result-json.js';
import { hasHookGradients, hasParameterGradients, type HookGradientModel, type ParameterGradientModel } from '../src/models/capabilities.js';
import { integratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { lime } from '../src/attr/perturbation/lime.js';
import { findMethod, type MethodDescriptor } from '../src/methods.js';
import type { QuadratureRule } from '../src/core/quadrature.js';

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

  it('every result kind narrows on kind; the JSON form narrows the same way', () => {
    const narrow = (r: AttributionResult) => {
      if (r.kind === 'component') expectTypeOf(r).toEqualTypeOf<ComponentAttribution>();
      if (r.kind === 'data') expectTypeOf(r).toEqualTypeOf<DataAttribution>();
      if (r.kind === 'context') expectTypeOf(r.sources[0]!.start).toEqualTypeOf<number>();
      if (r.kind === 'layer') expectTypeOf(r).toEqualTypeOf<LayerAttribution>();
      if (r.kind === 'feature') expectTypeOf(r).toEqualTypeOf<FeatureAttribution>();
    };
    expectTypeOf(narrow).toBeFunction();
    expectTypeOf<ContextAttribution['kind']>().toEqualTypeOf<'context'>();
    expectTypeOf<Extract<AttributionJson, { kind: 'component' }>['components']>().toEqualTypeOf<string[]>();
    expectTypeOf<Extract<AttributionJson, { kind: 'context' }>>().not.toHaveProperty('target');
  });

  it('capabilities are declared types: guards narrow, and a plain model is not a hook-gradient or parameter-gradient model', () => {
    const use = (m: ModelAdapter) => {
      if (hasHookGradients(m)) expectTypeOf(m.gradientsAtHooks).toBeFunction();
      if (hasParameterGradients(m)) expectTypeOf(m.parameterNames).toEqualTypeOf<readonly string[]>();
    };
    expectTypeOf(use).toBeFunction();
    expectTypeOf<HookGradientModel>().toMatchTypeOf<HookedModel>();
    expectTypeOf<HookedModel>().not.toMatchTypeOf<HookGradientModel>();
    expectTypeOf<DifferentiableModel>().not.toMatchTypeOf<ParameterGradientModel>();
  });

  it('descriptors carry typed defaults from their one declaration', () => {
    expectTypeOf(integratedGradients.defaults.steps).toEqualTypeOf<50>();
    expectTypeOf(integratedGradients.defaults.rule).toMatchTypeOf<QuadratureRule>();
    expectTypeOf(lime.defaults.surrogate).toEqualTypeOf<'lasso'>();
    // @ts-expect-error featureMask declares no default
    expectTypeOf(lime.defaults.featureMask).toBeUnknown();
    expectTypeOf(findMethod('lime')).toEqualTypeOf<MethodDescriptor>();
  });
});
