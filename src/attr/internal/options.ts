// Option declarations several methods share, and the model checks their `create` functions make.
import { assertOneOf } from '../../core/assert.js';
import type { MethodSettings, OptionDecls } from '../../core/method.js';
import { QUADRATURE_RULES } from '../../core/quadrature.js';
import { requireGradients, requireHooks, type DifferentiableModel, type HookedModel, type ModelAdapter } from '../../models/model.js';

/** `seed` of the stochastic methods. */
export const seedOption = { seed: { type: 'int', help: 'random seed', default: 0 } } as const satisfies OptionDecls;

/** `featureMask` of the methods that perturb feature groups. */
export const maskOption = {
  featureMask: { type: 'mask', help: 'feature groups: a file (.json/.npy), slic[:N[:compactness]], grid:B, words, sentences or paragraphs' },
} as const satisfies OptionDecls;

/** `perturbationsPerEval` of the feature-group methods. */
export const perturbationsOption = {
  perturbationsPerEval: { type: 'int', help: 'perturbed copies per input row in one model call (bounded by batch size)' },
} as const satisfies OptionDecls;

/** `steps` and `rule` of the path methods (IG and its layer and neuron forms). */
export const pathOptions = {
  steps: { type: 'int', help: 'quadrature nodes on the path', default: 50 },
  rule: { type: 'enum', values: QUADRATURE_RULES, help: 'quadrature rule', default: 'gauss-legendre' },
} as const satisfies OptionDecls;

/** `neuron` of the neuron methods. */
export const neuronOption = {
  neuron: { type: 'int-list', help: "the neuron's index in the layer's output, without the batch (e.g. 3,4,1)" },
} as const satisfies OptionDecls;

/** The model, checked to have gradients, for a gradient method's `create`. */
export function gradientModel(model: ModelAdapter, method: string): DifferentiableModel {
  requireGradients(model, method);
  return model;
}

/** The model, checked to have layer access, for a layer or rules method's `create`. */
export function hookedModel(model: ModelAdapter, method: string): HookedModel {
  requireHooks(model, method);
  return model;
}

/**
 * A constructor setting passed among the catalogue's options (the CLI's `--preset` of LRP, `--max-pool`
 * of DeepLIFT), checked against its allowed values: `{}` when not given, else `{ [name]: value }`.
 */
export function enumSetting<K extends string, T extends string>(st: MethodSettings | undefined, name: K, allowed: readonly T[], fn: string): { [P in K]?: T } {
  const v = st?.options?.[name];
  if (v === undefined) return {};
  assertOneOf(v, allowed, name, fn);
  const setting: { [P in K]?: T } = {};
  setting[name] = v;
  return setting;
}
