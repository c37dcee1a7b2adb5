// The method catalogue: every method's descriptor, declared beside its class and collected here,
// above attr/ and metrics/ (nothing below imports this file).
import { UnknownMethodError } from './core/errors.js';
import type { MethodDescriptor as DescriptorOf, MethodSettings } from './core/method.js';
import type { MethodId } from './core/types.js';
import { deepLift, deepLiftShap } from './attr/backprop/deeplift.js';
import { deconvolution, guidedBackprop } from './attr/backprop/guided-backprop.js';
import { guidedGradCam } from './attr/backprop/guided-gradcam.js';
import { lrp } from './attr/backprop/lrp.js';
import { expectedGradients, gradientShap } from './attr/gradient/gradient-shap.js';
import { inputXGradient } from './attr/gradient/input-x-gradient.js';
import { integratedGradients } from './attr/gradient/integrated-gradients.js';
import { noiseTunnel } from './attr/gradient/noise-tunnel.js';
import { saliency } from './attr/gradient/saliency.js';
import { gradCamPlusPlus, layerCam, layerGradCam } from './attr/layer/cam.js';
import { internalInfluence } from './attr/layer/internal-influence.js';
import { layerActivation } from './attr/layer/layer-activation.js';
import { layerConductance } from './attr/layer/layer-conductance.js';
import { layerDeepLift } from './attr/layer/layer-deeplift.js';
import { layerGradientXActivation } from './attr/layer/layer-gradient-x-activation.js';
import { layerIntegratedGradients } from './attr/layer/layer-integrated-gradients.js';
import { layerFor } from './attr/layer/layer-of.js';
import { neuronConductance, neuronGradient, neuronIntegratedGradients } from './attr/layer/neuron.js';
import { scoreCam } from './attr/layer/score-cam.js';
import { featureAblation } from './attr/perturbation/feature-ablation.js';
import { featurePermutation } from './attr/perturbation/feature-permutation.js';
import { kernelShap } from './attr/perturbation/kernel-shap.js';
import { lime } from './attr/perturbation/lime.js';
import { occlusion } from './attr/perturbation/occlusion.js';
import { shapleyValueSampling, shapleyValues } from './attr/perturbation/shapley.js';
import { randomAttribution } from './attr/random.js';
import { extremalPerturbation } from './attr/sensitivity/extremal.js';
import { hsic } from './attr/sensitivity/hsic.js';
import { lima } from './attr/sensitivity/lima.js';
import { rise } from './attr/sensitivity/rise.js';
import { sobol } from './attr/sensitivity/sobol.js';
import type { ModelAdapter } from './models/model.js';

export { COMPONENT_CATALOGUE, findComponentMethod } from './components/catalogue.js';
export type { ComponentMethodInfo } from './components/catalogue.js';
export type { CatalogueAttributor, CatalogueOptions, MethodLookup, MethodSettings, OptionDecl, OptionDecls, OptionDefaults, OptionSpec } from './core/method.js';
export { defineMethod } from './core/method.js';

/** A catalogued method's descriptor (any method, any options). */
export type MethodDescriptor = DescriptorOf;

/** Every method, as declared beside its class, in the order `attrib methods` lists them. */
const DECLARED: readonly MethodDescriptor[] = [
  saliency,
  inputXGradient,
  integratedGradients,
  noiseTunnel,
  gradientShap,
  expectedGradients,
  occlusion,
  featureAblation,
  featurePermutation,
  shapleyValues,
  shapleyValueSampling,
  kernelShap,
  lime,
  rise,
  sobol,
  hsic,
  extremalPerturbation,
  lima,
  layerActivation,
  layerGradientXActivation,
  layerIntegratedGradients,
  layerConductance,
  internalInfluence,
  layerGradCam,
  gradCamPlusPlus,
  layerCam,
  scoreCam,
  neuronGradient,
  neuronIntegratedGradients,
  neuronConductance,
  guidedBackprop,
  deconvolution,
  guidedGradCam,
  deepLift,
  deepLiftShap,
  layerDeepLift,
  lrp,
  randomAttribution,
];

/**
 * The catalogue: each declared descriptor, its `create` given the catalogue to look other methods up
 * in (noise-tunnel's inner method).
 */
export const METHODS: readonly MethodDescriptor[] = DECLARED.map((d) => Object.freeze({ ...d, create: (m: unknown, st?: MethodSettings) => d.create(m, st, findMethod) }));

/** The descriptor of a method id, or `unknown_method` listing the ids. */
export function findMethod(id: string): MethodDescriptor {
  const d = METHODS.find((m) => m.id === id);
  if (!d) {
    throw new UnknownMethodError(`Unknown method '${id}'; known methods: ${METHODS.map((m) => m.id).join(', ')}`, {
      method: id,
      known: METHODS.map((m) => m.id),
    });
  }
  return d;
}

/** The layer `id` picks when none is given, if it has a default for this model. */
export function defaultLayer(model: ModelAdapter, id: MethodId): string | undefined {
  return findMethod(id).defaultLayer?.(model);
}

/**
 * The layer a method runs on: the `layer` setting, else a default where the method has one
 * (layer-integrated-gradients: the Embedding layer that reads token ids; CAM methods: the last layer
 * with spatial dims, convolutional first), else an `invalid_argument` error listing the layers.
 */
export function layerOf(model: ModelAdapter, settings: MethodSettings | undefined, id: MethodId): string {
  const d = findMethod(id);
  return layerFor(model, settings, id, d.defaultLayer ? (m) => d.defaultLayer?.(m) : undefined);
}
