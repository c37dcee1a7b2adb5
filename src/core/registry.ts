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
import { requireGradients, type ModelAdapter } from '../models/model.js';
import { UnknownMethodError } from './errors.js';
import { QUADRATURE_RULES } from './quadrature.js';
import type { AttributeOptions, Attributor, MethodId } from './types.js';

/** One option of a method, as the CLI and UI present it. `name` is the library option. */
export interface OptionSpec {
  readonly name: string;
  readonly type: 'int' | 'number' | 'enum' | 'int-list' | 'bool' | 'mask' | 'method';
  readonly help: string;
  readonly default?: string | number | boolean;
  readonly values?: readonly string[];
}

export interface MethodDescriptor {
  readonly id: MethodId;
  readonly title: string;
  readonly family: 'gradient' | 'perturbation' | 'control';
  /** What the model must offer. */
  readonly requires: 'gradients' | 'forward';
  /** Cost in model rows, as a formula. */
  readonly cost: string;
  readonly reference: string;
  readonly stochastic: boolean;
  readonly options: readonly OptionSpec[];
  /** Builds the method for a model; `inner` is the wrapped method for noise-tunnel. */
  create(model: ModelAdapter, inner?: MethodId): Attributor<AttributeOptions>;
}

const seed: OptionSpec = { name: 'seed', type: 'int', help: 'random seed', default: 0 };
const mask: OptionSpec = { name: 'featureMask', type: 'mask', help: 'integer group id per element of one row (file: .json or .npy)' };
const ppe: OptionSpec = { name: 'perturbationsPerEval', type: 'int', help: 'perturbed copies per input row in one model call (bounded by batch size)' };

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
    options: [
      { name: 'steps', type: 'int', help: 'quadrature nodes on the path', default: 50 },
      { name: 'rule', type: 'enum', values: QUADRATURE_RULES, help: 'quadrature rule', default: 'gauss-legendre' },
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
    options: [
      { name: 'inner', type: 'method', help: 'wrapped method id', default: 'saliency' },
      { name: 'type', type: 'enum', values: NOISE_TUNNEL_TYPES, help: 'aggregation', default: 'smoothgrad' },
      { name: 'samples', type: 'int', help: 'noisy copies per input', default: 5 },
      { name: 'stdevs', type: 'number', help: 'noise standard deviation (input units)', default: 1 },
      seed,
    ],
    create: (m, inner) => {
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
    id: 'random',
    title: 'Random (control)',
    family: 'control',
    requires: 'forward',
    cost: '0',
    reference: 'the baseline of every evaluation (Adebayo et al. 2018; Hooker et al. 2019)',
    stochastic: true,
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
