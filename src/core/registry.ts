import { IntegratedGradients } from '../attr/gradient/integrated-gradients.js';
import { InputXGradient } from '../attr/gradient/input-x-gradient.js';
import { NoiseTunnel, NOISE_TUNNEL_TYPES } from '../attr/gradient/noise-tunnel.js';
import { Saliency } from '../attr/gradient/saliency.js';
import { ExpectedGradients, GradientShap } from '../attr/gradient/gradient-shap.js';
import { FeatureAblation } from '../attr/perturbation/feature-ablation.js';
import { FeaturePermutation } from '../attr/perturbation/feature-permutation.js';
import { KernelShap } from '../attr/perturbation/kernel-shap.js';
import { Lime } from '../attr/perturbation/lime.js';
import { Occlusion } from '../attr/perturbation/occlusion.js';
import { ShapleyValueSampling, ShapleyValues } from '../attr/perturbation/shapley.js';
import { RandomAttribution } from '../attr/random.js';
import { Rise } from '../attr/sensitivity/rise.js';
import { Sobol } from '../attr/sensitivity/sobol.js';
import { Hsic } from '../attr/sensitivity/hsic.js';
import { ExtremalPerturbation } from '../attr/sensitivity/extremal.js';
import { Lima, LIMA_SEARCHES } from '../attr/sensitivity/lima.js';
import { SOBOL_PERTURBATIONS } from '../attr/sensitivity/gsa.js';
import { DEEPLIFT_MAXPOOL, DeepLift, DeepLiftShap, type DeepLiftMaxPool, type DeepLiftSettings } from '../attr/backprop/deeplift.js';
import { LayerDeepLift } from '../attr/layer/layer-deeplift.js';
import { Lrp, LRP_PRESETS, type LrpPreset } from '../attr/backprop/lrp.js';
import { Deconvolution, GuidedBackprop } from '../attr/backprop/guided-backprop.js';
import { GuidedGradCam } from '../attr/backprop/guided-gradcam.js';
import { GradCamPlusPlus, LayerCam, LayerGradCam, UPSAMPLE_MODES } from '../attr/layer/cam.js';
import { InternalInfluence } from '../attr/layer/internal-influence.js';
import { ScoreCam } from '../attr/layer/score-cam.js';
import { LayerActivation } from '../attr/layer/layer-activation.js';
import { LayerConductance } from '../attr/layer/layer-conductance.js';
import { LayerGradientXActivation } from '../attr/layer/layer-gradient-x-activation.js';
import { LayerIntegratedGradients } from '../attr/layer/layer-integrated-gradients.js';
import { NeuronConductance, NeuronGradient, NeuronIntegratedGradients } from '../attr/layer/neuron.js';
import { isHooked, requireGradients, requireHooks, type HookedModel, type ModelAdapter } from '../models/model.js';
import { InvalidArgumentError, UnknownMethodError } from './errors.js';
import { QUADRATURE_RULES } from './quadrature.js';
import type { AttributeOptions, Attributor, MethodId } from './types.js';

/** One option of a method, as the CLI and UI present it. `name` is the library option. */
export interface OptionSpec {
  readonly name: string;
  readonly type: 'int' | 'number' | 'enum' | 'int-list' | 'number-list' | 'bool' | 'mask' | 'method';
  readonly help: string;
  readonly default?: string | number | boolean;
  readonly values?: readonly string[];
}

/** Constructor settings a method may take, from the CLI or UI. */
export interface MethodSettings {
  /** The wrapped method (noise-tunnel). */
  readonly inner?: MethodId;
  /** The layer (hook name) of layer, neuron and CAM methods. */
  readonly layer?: string;
  /** The method's options as given (constructor settings such as LRP's preset are read from here). */
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface MethodDescriptor {
  readonly id: MethodId;
  readonly title: string;
  /** `layer`: layer, neuron and CAM methods (a layer setting); `backprop`: modified back-propagation. */
  readonly family: 'gradient' | 'perturbation' | 'layer' | 'backprop' | 'control';
  /** What the model must offer: `hooks` = layer access (TF.js layers models). */
  readonly requires: 'gradients' | 'forward' | 'hooks';
  /** True when the method swaps activations or layers during back-propagation (TF.js layers models only). */
  readonly rules?: true;
  /** Whether the method takes a layer: `required`, or `default` when it can pick one (see `defaultLayer`). */
  readonly layer?: 'required' | 'default';
  /** What the method returns: input-shaped (`feature`) or layer-shaped (`layer`). */
  readonly output: 'feature' | 'layer';
  /** Cost in model rows, as a formula. */
  readonly cost: string;
  readonly reference: string;
  readonly stochastic: boolean;
  readonly options: readonly OptionSpec[];
  /** Builds the method for a model with its constructor settings. */
  create(model: ModelAdapter, settings?: MethodSettings): Attributor<AttributeOptions>;
}

const seed: OptionSpec = { name: 'seed', type: 'int', help: 'random seed', default: 0 };
const mask: OptionSpec = { name: 'featureMask', type: 'mask', help: 'feature groups: a file (.json/.npy), slic[:N[:compactness]], grid:B, words, sentences or paragraphs' };
const ppe: OptionSpec = { name: 'perturbationsPerEval', type: 'int', help: 'perturbed copies per input row in one model call (bounded by batch size)' };

/** `steps` and `rule` of the path methods (IG and its layer and neuron forms). */
const pathOptions: readonly OptionSpec[] = [
  { name: 'steps', type: 'int', help: 'quadrature nodes on the path', default: 50 },
  { name: 'rule', type: 'enum', values: QUADRATURE_RULES, help: 'quadrature rule', default: 'gauss-legendre' },
];
const maxPoolOption: OptionSpec = { name: 'maxPool', type: 'enum', values: DEEPLIFT_MAXPOOL, help: "max-pooling: Captum's gradient, or DeepLIFT's exact (complete) rule", default: 'gradient' };
const deepLiftSettings = (st: MethodSettings | undefined): DeepLiftSettings => {
  const v = st?.options?.['maxPool'];
  return typeof v === 'string' ? { maxPool: v as DeepLiftMaxPool } : {};
};
const gsaPerturbationOptions: readonly OptionSpec[] = [
  { name: 'perturbation', type: 'enum', values: SOBOL_PERTURBATIONS, help: 'how masks perturb the input', default: 'inpainting' },
  { name: 'blurSize', type: 'int', help: 'box blur size in pixels (perturbation blur)', default: 10 },
  { name: 'amplitude', type: 'number', help: 'σ of the amplitude perturbation', default: 1 },
];
const neuron: OptionSpec = { name: 'neuron', type: 'int-list', help: "the neuron's index in the layer's output, without the batch (e.g. 3,4,1)" };

const hooked = (model: ModelAdapter, method: string): HookedModel => {
  requireHooks(model, method);
  return model;
};

/**
 * The layer a method runs on: the `layer` setting, else a default where the method has one
 * (layer-integrated-gradients: the Embedding layer that reads token ids; CAM methods: the last layer
 * with spatial dims, convolutional first), else an `invalid_argument` error listing the layers.
 */
export function layerOf(model: ModelAdapter, settings: MethodSettings | undefined, id: MethodId): string {
  if (settings?.layer !== undefined) return settings.layer;
  const names = isHooked(model) ? model.hookNames : [];
  const picked = defaultLayer(model, id);
  if (picked !== undefined) return picked;
  throw new InvalidArgumentError(`Method '${id}' needs a layer (CLI: --layer NAME); layers of model '${model.name}': ${names.join(', ') || '(none: the model cannot be hooked)'}`, {
    arg: 'layer',
    method: id,
    layers: names,
  });
}

/** The layer `id` picks when none is given, if it has a default for this model. */
export function defaultLayer(model: ModelAdapter, id: MethodId): string | undefined {
  if (!isHooked(model)) return undefined;
  if (id === 'layer-integrated-gradients') return (model as { embeddingOfInput?: string }).embeddingOfInput;
  if (id === 'layer-gradcam' || id === 'gradcam-plus-plus' || id === 'layer-cam' || id === 'score-cam' || id === 'guided-gradcam') {
    // the last convolutional layer (as GradCAM's paper and pytorch-grad-cam do), else the last spatial one
    const spatial = [...model.hookNames].reverse().filter((n) => model.hookShape(n).length === 4);
    return spatial.find((n) => /Conv/.test(model.hookClass(n))) ?? spatial[0];
  }
  return undefined;
}

const gradient = (model: ModelAdapter, method: string) => {
  requireGradients(model, method);
  return model;
};

export const METHODS: readonly MethodDescriptor[] = [
  {
    id: 'saliency',
    title: 'Saliency',
    family: 'gradient',
    requires: 'gradients',
    cost: 'batch',
    reference: 'Simonyan et al. 2013, arXiv:1312.6034',
    stochastic: false,
    output: 'feature',
    options: [{ name: 'abs', type: 'bool', help: 'absolute value of the gradient', default: true }],
    create: (m) => new Saliency(gradient(m, 'Saliency')),
  },
  {
    id: 'input-x-gradient',
    title: 'Input × Gradient',
    family: 'gradient',
    requires: 'gradients',
    cost: 'batch',
    reference: 'Shrikumar et al. 2016, arXiv:1605.01713',
    stochastic: false,
    output: 'feature',
    options: [],
    create: (m) => new InputXGradient(gradient(m, 'InputXGradient')),
  },
  {
    id: 'integrated-gradients',
    title: 'Integrated Gradients',
    family: 'gradient',
    requires: 'gradients',
    cost: 'batch × (steps + 2)',
    reference: 'Sundararajan et al. 2017, arXiv:1703.01365',
    stochastic: false,
    output: 'feature',
    options: [
      ...pathOptions,
    ],
    create: (m) => new IntegratedGradients(gradient(m, 'IntegratedGradients')),
  },
  {
    id: 'noise-tunnel',
    title: 'NoiseTunnel (SmoothGrad, SmoothGrad², VarGrad)',
    family: 'gradient',
    requires: 'gradients',
    cost: 'samples × inner cost',
    reference: 'Smilkov et al. 2017, arXiv:1706.03825; Adebayo et al. 2018',
    stochastic: true,
    output: 'feature',
    options: [
      { name: 'inner', type: 'method', help: 'wrapped method id', default: 'saliency' },
      { name: 'type', type: 'enum', values: NOISE_TUNNEL_TYPES, help: 'aggregation', default: 'smoothgrad' },
      { name: 'samples', type: 'int', help: 'noisy copies per input', default: 5 },
      { name: 'stdevs', type: 'number', help: 'noise standard deviation (input units)', default: 1 },
      seed,
    ],
    create: (m, settings) => {
      const inner = settings?.inner;
      const wrapped = findMethod(inner ?? 'saliency');
      if (wrapped.id === 'noise-tunnel') throw new UnknownMethodError(`noise-tunnel cannot wrap itself`, { method: inner });
      return new NoiseTunnel(wrapped.create(m), m) as unknown as Attributor<AttributeOptions>;
    },
  },
  {
    id: 'gradient-shap',
    title: 'GradientSHAP',
    family: 'gradient',
    requires: 'gradients',
    cost: 'batch × (samples + 1) + baselines',
    reference: 'Lundberg & Lee 2017, arXiv:1705.07874',
    stochastic: true,
    output: 'feature',
    options: [
      { name: 'samples', type: 'int', help: 'samples per input', default: 5 },
      { name: 'stdevs', type: 'number', help: 'input noise standard deviation', default: 0 },
      seed,
    ],
    create: (m) => new GradientShap(gradient(m, 'GradientShap')),
  },
  {
    id: 'expected-gradients',
    title: 'Expected Gradients',
    family: 'gradient',
    requires: 'gradients',
    cost: 'batch × (samples + 1) + baselines',
    reference: 'Erion et al. 2021, arXiv:1906.10670',
    stochastic: true,
    output: 'feature',
    options: [{ name: 'samples', type: 'int', help: 'samples per input', default: 32 }, seed],
    create: (m) => new ExpectedGradients(gradient(m, 'ExpectedGradients')),
  },
  {
    id: 'occlusion',
    title: 'Occlusion',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × (windows + 1)',
    reference: 'Zeiler & Fergus 2014, arXiv:1311.2901',
    stochastic: false,
    output: 'feature',
    options: [
      { name: 'window', type: 'int-list', help: 'window over the non-batch dims, model layout (e.g. 4,4,3)', default: 1 },
      { name: 'strides', type: 'int-list', help: 'strides over the non-batch dims', default: 1 },
    ],
    create: (m) => new Occlusion(m),
  },
  {
    id: 'feature-ablation',
    title: 'Feature Ablation',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × (features + 1)',
    reference: 'Captum; Covert et al. 2021, arXiv:2011.14878',
    stochastic: false,
    output: 'feature',
    options: [mask, ppe],
    create: (m) => new FeatureAblation(m),
  },
  {
    id: 'feature-permutation',
    title: 'Feature Permutation',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × (features + 1)',
    reference: 'Breiman 2001; Fisher et al. 2019, arXiv:1801.01489',
    stochastic: true,
    output: 'feature',
    options: [mask, ppe, seed],
    create: (m) => new FeaturePermutation(m) as unknown as Attributor<AttributeOptions>,
  },
  {
    id: 'shapley-values',
    title: 'Shapley Values (exact)',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × 2^features',
    reference: 'Shapley 1953; Captum ShapleyValues',
    stochastic: false,
    output: 'feature',
    options: [mask, ppe],
    create: (m) => new ShapleyValues(m),
  },
  {
    id: 'shapley-value-sampling',
    title: 'Shapley Value Sampling',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × (samples × features + 1)',
    reference: 'Castro et al. 2009; Štrumbelj & Kononenko 2010',
    stochastic: true,
    output: 'feature',
    options: [mask, ppe, { name: 'samples', type: 'int', help: 'random orderings per input', default: 25 }, seed],
    create: (m) => new ShapleyValueSampling(m),
  },
  {
    id: 'kernel-shap',
    title: 'KernelSHAP',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × (min(samples, 2^features − 2) + 2)',
    reference: 'Lundberg & Lee 2017, arXiv:1705.07874',
    stochastic: true,
    output: 'feature',
    options: [mask, ppe, { name: 'samples', type: 'int', help: 'coalitions per input', default: 200 }, seed],
    create: (m) => new KernelShap(m),
  },
  {
    id: 'lime',
    title: 'LIME',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × samples',
    reference: 'Ribeiro et al. 2016, arXiv:1602.04938',
    stochastic: true,
    output: 'feature',
    options: [
      mask,
      ppe,
      { name: 'samples', type: 'int', help: 'perturbed samples per input', default: 200 },
      { name: 'surrogate', type: 'enum', values: ['lasso', 'ridge'], help: 'interpretable model', default: 'lasso' },
      { name: 'alpha', type: 'number', help: 'regularisation strength', default: 0.01 },
      { name: 'kernelWidth', type: 'number', help: 'similarity kernel width (cosine distance)', default: 1 },
      seed,
    ],
    create: (m) => new Lime(m),
  },
  {
    id: 'rise',
    title: 'RISE',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × samples',
    reference: 'Petsiuk et al. 2018, arXiv:1806.07421',
    stochastic: true,
    output: 'feature',
    options: [
      { name: 'samples', type: 'int', help: 'random masks per input', default: 1000 },
      { name: 'gridSize', type: 'int', help: 'cells per side of the mask grid', default: 8 },
      { name: 'keepProbability', type: 'number', help: 'probability a cell is kept', default: 0.5 },
      { name: 'center', type: 'bool', help: 'subtract the mean score (lower variance)', default: false },
      seed,
    ],
    create: (m) => new Rise(m),
  },
  {
    id: 'sobol',
    title: 'Sobol attribution (total-order indices)',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × designs × (regions + 2)',
    reference: 'Fel et al. 2021, arXiv:2111.04138',
    stochastic: true,
    output: 'feature',
    options: [
      { name: 'gridSize', type: 'int', help: 'cells per side of the region grid (images)', default: 8 },
      mask,
      { name: 'designs', type: 'int', help: 'points N of the matrices A and B', default: 32 },
      ...gsaPerturbationOptions,
      seed,
    ],
    create: (m) => new Sobol(m),
  },
  {
    id: 'hsic',
    title: 'HSIC attribution',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × designs',
    reference: 'Novello et al. 2022, arXiv:2206.06219',
    stochastic: true,
    output: 'feature',
    options: [
      { name: 'gridSize', type: 'int', help: 'cells per side of the region grid (images)', default: 8 },
      mask,
      { name: 'designs', type: 'int', help: 'binary mask designs per input', default: 500 },
      ...gsaPerturbationOptions,
      seed,
    ],
    create: (m) => new Hsic(m),
  },
  {
    id: 'extremal-perturbation',
    title: 'Extremal perturbations',
    family: 'perturbation',
    requires: 'gradients',
    cost: 'batch × areas × iterations',
    reference: 'Fong, Patrick & Vedaldi 2019, arXiv:1910.08485',
    stochastic: false,
    output: 'feature',
    options: [
      { name: 'areas', type: 'number-list', help: 'fractions of the image kept, one mask each', default: '0.05,0.1,0.2' },
      { name: 'variant', type: 'enum', values: ['preserve', 'delete'], help: 'keep the region, or delete it', default: 'preserve' },
      { name: 'iterations', type: 'int', help: 'optimisation steps per area', default: 300 },
      { name: 'learningRate', type: 'number', help: 'Adam step size', default: 0.05 },
      { name: 'maskStep', type: 'int', help: 'pixels per mask parameter' },
      { name: 'blurSigma', type: 'number', help: 'σ of the blur removed pixels become' },
    ],
    create: (m) => new ExtremalPerturbation(gradient(m, 'ExtremalPerturbation')),
  },
  {
    id: 'lima',
    title: 'LiMA (submodular region ranking)',
    family: 'perturbation',
    requires: 'forward',
    cost: 'batch × (1 + m + 2·Σ candidates), m regions (≈ m²/2 bidirectional, m² greedy)',
    reference: 'Chen et al. 2024, arXiv:2402.09164; Chen et al. 2025, arXiv:2504.00470',
    stochastic: false,
    output: 'feature',
    options: [
      { name: 'gridSize', type: 'int', help: 'cells per side of the region grid (images)', default: 5 },
      mask,
      { name: 'search', type: 'enum', values: LIMA_SEARCHES, help: 'bidirectional (both ends per step) or greedy', default: 'bidirectional' },
    ],
    create: (m) => new Lima(m),
  },
  {
    id: 'layer-activation',
    title: 'Layer Activation',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch',
    reference: 'Captum LayerActivation',
    stochastic: false,
    output: 'layer',
    options: [],
    create: (m, st) => new LayerActivation(hooked(m, 'LayerActivation'), { layer: layerOf(m, st, 'layer-activation') }) as unknown as Attributor<AttributeOptions>,
  },
  {
    id: 'layer-gradient-x-activation',
    title: 'Layer Gradient × Activation',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch × 2',
    reference: 'Shrikumar et al. 2016, arXiv:1605.01713; Captum LayerGradientXActivation',
    stochastic: false,
    output: 'layer',
    options: [],
    create: (m, st) => new LayerGradientXActivation(hooked(m, 'LayerGradientXActivation'), { layer: layerOf(m, st, 'layer-gradient-x-activation') }),
  },
  {
    id: 'layer-integrated-gradients',
    title: 'Layer Integrated Gradients',
    family: 'layer',
    requires: 'hooks',
    layer: 'default',
    cost: 'batch × (steps + 4)',
    reference: 'Sundararajan et al. 2017, arXiv:1703.01365; Captum LayerIntegratedGradients',
    stochastic: false,
    output: 'layer',
    options: [
      ...pathOptions,
    ],
    create: (m, st) => new LayerIntegratedGradients(hooked(m, 'LayerIntegratedGradients'), { layer: layerOf(m, st, 'layer-integrated-gradients') }),
  },
  {
    id: 'layer-conductance',
    title: 'Layer Conductance',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch × (2 × steps + 4)',
    reference: 'Dhamdhere et al. 2018, arXiv:1805.12233',
    stochastic: false,
    output: 'layer',
    options: [
      { name: 'steps', type: 'int', help: 'path steps (evaluated at steps + 1 points)', default: 50 },
      { name: 'rule', type: 'enum', values: QUADRATURE_RULES, help: 'where the path points lie', default: 'gauss-legendre' },
    ],
    create: (m, st) => new LayerConductance(hooked(m, 'LayerConductance'), { layer: layerOf(m, st, 'layer-conductance') }),
  },
  {
    id: 'internal-influence',
    title: 'Internal Influence',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch × 2 × steps',
    reference: 'Leino et al. 2018, arXiv:1802.03788',
    stochastic: false,
    output: 'layer',
    options: [
      ...pathOptions,
    ],
    create: (m, st) => new InternalInfluence(hooked(m, 'InternalInfluence'), { layer: layerOf(m, st, 'internal-influence') }),
  },
  ...(
    [
      ['layer-gradcam', 'GradCAM', 'Selvaraju et al. 2017, arXiv:1610.02391', false, (m: HookedModel, layer: string) => new LayerGradCam(m, { layer })],
      ['gradcam-plus-plus', 'GradCAM++', 'Chattopadhyay et al. 2018, arXiv:1710.11063', true, (m: HookedModel, layer: string) => new GradCamPlusPlus(m, { layer })],
      ['layer-cam', 'LayerCAM', 'Jiang et al. 2021, IEEE TIP 30:5875', true, (m: HookedModel, layer: string) => new LayerCam(m, { layer })],
      ['score-cam', 'ScoreCAM', 'Wang et al. 2020, arXiv:1910.01279', true, (m: HookedModel, layer: string) => new ScoreCam(m, { layer })],
    ] as const
  ).map(
    ([id, title, reference, relu, make]): MethodDescriptor => ({
      id,
      title,
      family: 'layer',
      requires: 'hooks',
      layer: 'default',
      cost: id === 'score-cam' ? 'batch × (channels + 2), forward only' : 'batch × 2',
      reference,
      stochastic: false,
      output: 'layer',
      options: [
        { name: 'relu', type: 'bool', help: 'ReLU on the map', default: relu },
        { name: 'upsample', type: 'enum', values: UPSAMPLE_MODES, help: 'resize the map to the input', default: 'none' },
        { name: 'channelsFirst', type: 'bool', help: "the layer is [batch, channels, ...] (PyTorch ONNX exports)", default: false },
      ],
      create: (m, st) => make(hooked(m, title), layerOf(m, st, id)),
    }),
  ),
  {
    id: 'neuron-gradient',
    title: 'Neuron Gradient',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch',
    reference: 'Captum NeuronGradient',
    stochastic: false,
    output: 'feature',
    options: [neuron],
    create: (m, st) => new NeuronGradient(hooked(m, 'NeuronGradient'), { layer: layerOf(m, st, 'neuron-gradient') }) as unknown as Attributor<AttributeOptions>,
  },
  {
    id: 'neuron-integrated-gradients',
    title: 'Neuron Integrated Gradients',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch × (steps + 2)',
    reference: 'Shrikumar et al. 2018, arXiv:1807.09946; Captum NeuronIntegratedGradients',
    stochastic: false,
    output: 'feature',
    options: [
      neuron,
      ...pathOptions,
    ],
    create: (m, st) => new NeuronIntegratedGradients(hooked(m, 'NeuronIntegratedGradients'), { layer: layerOf(m, st, 'neuron-integrated-gradients') }) as unknown as Attributor<AttributeOptions>,
  },
  {
    id: 'neuron-conductance',
    title: 'Neuron Conductance',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch × 3 × steps',
    reference: 'Dhamdhere et al. 2018, arXiv:1805.12233',
    stochastic: false,
    output: 'feature',
    options: [neuron, ...pathOptions],
    create: (m, st) => new NeuronConductance(hooked(m, 'NeuronConductance'), { layer: layerOf(m, st, 'neuron-conductance') }),
  },
  {
    id: 'guided-backprop',
    rules: true,
    title: 'Guided Backprop',
    family: 'backprop',
    requires: 'hooks',
    cost: 'batch',
    reference: 'Springenberg et al. 2015, arXiv:1412.6806',
    stochastic: false,
    output: 'feature',
    options: [],
    create: (m) => new GuidedBackprop(hooked(m, 'GuidedBackprop')),
  },
  {
    id: 'deconvolution',
    rules: true,
    title: 'Deconvolution',
    family: 'backprop',
    requires: 'hooks',
    cost: 'batch',
    reference: 'Zeiler & Fergus 2014, arXiv:1311.2901',
    stochastic: false,
    output: 'feature',
    options: [],
    create: (m) => new Deconvolution(hooked(m, 'Deconvolution')),
  },
  {
    id: 'guided-gradcam',
    rules: true,
    title: 'Guided GradCAM',
    family: 'backprop',
    requires: 'hooks',
    layer: 'default',
    cost: 'batch × 3',
    reference: 'Selvaraju et al. 2017, arXiv:1610.02391',
    stochastic: false,
    output: 'feature',
    options: [{ name: 'upsample', type: 'enum', values: ['nearest', 'bilinear'], help: 'resize of the GradCAM map', default: 'nearest' }],
    create: (m, st) => new GuidedGradCam(hooked(m, 'GuidedGradCam'), { layer: layerOf(m, st, 'guided-gradcam') }),
  },
  {
    id: 'deeplift',
    rules: true,
    title: 'DeepLIFT (Rescale)',
    family: 'backprop',
    requires: 'hooks',
    cost: 'batch × 4',
    reference: 'Shrikumar et al. 2017, arXiv:1704.02685',
    stochastic: false,
    output: 'feature',
    options: [maxPoolOption],
    create: (m, st) => new DeepLift(hooked(m, 'DeepLift'), deepLiftSettings(st)),
  },
  {
    id: 'deeplift-shap',
    rules: true,
    title: 'DeepLiftShap',
    family: 'backprop',
    requires: 'hooks',
    cost: 'batch × (3 × baselines + 1)',
    reference: 'Lundberg & Lee 2017, arXiv:1705.07874; Captum DeepLiftShap',
    stochastic: false,
    output: 'feature',
    options: [maxPoolOption],
    create: (m, st) => new DeepLiftShap(hooked(m, 'DeepLiftShap'), deepLiftSettings(st)),
  },
  {
    id: 'layer-deeplift',
    rules: true,
    title: 'Layer DeepLIFT',
    family: 'layer',
    requires: 'hooks',
    layer: 'required',
    cost: 'batch × 6',
    reference: 'Shrikumar et al. 2017, arXiv:1704.02685; Captum LayerDeepLift',
    stochastic: false,
    output: 'layer',
    options: [],
    create: (m, st) => new LayerDeepLift(hooked(m, 'LayerDeepLift'), { layer: layerOf(m, st, 'layer-deeplift') }),
  },
  {
    id: 'lrp',
    rules: true,
    title: 'LRP (ε, γ, αβ, z-box; composite preset)',
    family: 'backprop',
    requires: 'hooks',
    cost: 'batch × 2',
    reference: 'Bach et al. 2015, PLoS ONE 10:e0130140; Montavon et al. 2019',
    stochastic: false,
    output: 'feature',
    options: [{ name: 'preset', type: 'enum', values: LRP_PRESETS, help: 'epsilon everywhere, or z-box/γ/ε by layer type', default: 'epsilon' }],
    create: (m, st) => {
      const preset = st?.options?.['preset'];
      return new Lrp(hooked(m, 'Lrp'), typeof preset === 'string' ? { preset: preset as LrpPreset } : {});
    },
  },
  {
    id: 'random',
    title: 'Random (control)',
    family: 'control',
    requires: 'forward',
    cost: '0',
    reference: 'the baseline of every evaluation (Adebayo et al. 2018; Hooker et al. 2019)',
    stochastic: true,
    output: 'feature',
    options: [seed],
    create: () => new RandomAttribution(),
  },
];

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
