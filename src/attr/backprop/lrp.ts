import * as tf from '@tensorflow/tfjs-core';
import { CapabilityError, InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireHooks, type AffineMap, type DifferentiableModel, type HookedModel, type LayerCall, type LayerInfo, type LayerRule, type ModelAdapter } from '../../models/model.js';
import { evaluateObjective, gradientsInBatches } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { enumSetting, hookedModel } from '../internal/options.js';

/** A relevance rule for an affine layer (Dense, Conv, folded BatchNorm). */
export type LrpRule =
  | { readonly rule: 'epsilon'; readonly epsilon?: number }
  | { readonly rule: 'gamma'; readonly gamma?: number; readonly epsilon?: number }
  | { readonly rule: 'alpha-beta'; readonly alpha?: number; readonly beta?: number }
  | { readonly rule: 'z-box'; readonly low: number; readonly high: number };

export const LRP_PRESETS = ['epsilon', 'composite'] as const;
export type LrpPreset = (typeof LRP_PRESETS)[number];

export interface LrpSettings {
  /**
   * 'epsilon' (default): ε = 1e-9 everywhere, Captum's LRP default. 'composite' (Montavon et al. 2019;
   * zennit's EpsilonGammaBox): z-box on the first layer (inputs bounded by `box`), γ = 0.25 on the
   * other convolutions, ε = 1e-6 on dense layers.
   */
  readonly preset?: LrpPreset;
  /** Rules by layer name, then by layer type ('Dense', 'Conv2D', …); they override the preset. */
  readonly rules?: Readonly<Record<string, LrpRule>>;
  /** Input bounds for the composite preset's z-box rule. Default [0, 1] (images in [0, 1]). */
  readonly box?: readonly [number, number];
  /** Fold each BatchNormalization into the Dense/Conv layer before it (default true); else it gets ε. */
  readonly foldBatchNorm?: boolean;
}

/** Layer types whose relevance passes through unchanged (elementwise activations, reshapes, dropout). */
const PASS = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** Layer types whose ordinary gradient conserves relevance (routing and reshaping). */
const GRADIENT = new Set(['Flatten', 'Reshape', 'Permute', 'Concatenate', 'MaxPooling1D', 'MaxPooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'Cropping2D', 'ZeroPadding2D', 'RepeatVector', 'InputLayer']);
/** Pooling layers: affine with positive weights, given the ε rule. */
const AVERAGE = new Set(['AveragePooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D']);
const AFFINE = new Set(['Dense', 'Conv1D', 'Conv2D']);
const ELEMENTWISE = new Set(['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softplus', 'softsign', 'swish', 'gelu', 'gelu_new', 'mish', 'linear']);

const stabilize = (z: tf.Tensor, eps: number): tf.Tensor => tf.add(z, tf.mul(tf.where(tf.greaterEqual(z, 0), tf.onesLike(z), tf.neg(tf.onesLike(z))), eps));

/**
 * Relevance of an affine layer's input given its output relevance `r` (Montavon et al. 2019):
 * ε: x ⊙ Wᵀ(r / (z + ε·sign z)); γ: the same with W + γW⁺ (and b + γb⁺); αβ: α R⁺ − β R⁻ over
 * positive and negative contributions; z-box: bounded inputs l ≤ x ≤ h.
 */
export function lrpAffine(x: tf.Tensor, r: tf.Tensor, map: AffineMap, kernel: tf.Tensor, bias: tf.Tensor | null, rule: LrpRule): tf.Tensor {
  const t = (s: tf.Tensor, k: tf.Tensor) => map.transpose(s, k, x.shape);
  const pos = (v: tf.Tensor) => tf.relu(v);
  const neg = (v: tf.Tensor) => tf.minimum(v, 0);
  switch (rule.rule) {
    case 'epsilon': {
      const s = tf.div(r, stabilize(map.apply(x, kernel, bias), rule.epsilon ?? 1e-9));
      return tf.mul(x, t(s, kernel));
    }
    case 'gamma': {
      const g = rule.gamma ?? 0.25;
      const k = tf.add(kernel, tf.mul(pos(kernel), g));
      const b = bias ? tf.add(bias, tf.mul(pos(bias), g)) : null;
      const s = tf.div(r, stabilize(map.apply(x, k, b), rule.epsilon ?? 1e-9));
      return tf.mul(x, t(s, k));
    }
    case 'alpha-beta': {
      const [alpha, beta] = [rule.alpha ?? 2, rule.beta ?? 1];
      const [xp, xn, kp, kn] = [pos(x), neg(x), pos(kernel), neg(kernel)];
      const zp = tf.add(map.apply(xp, kp, bias ? pos(bias) : null), map.apply(xn, kn, null));
      const zn = tf.add(map.apply(xp, kn, bias ? neg(bias) : null), map.apply(xn, kp, null));
      const sp = tf.div(r, stabilize(zp, 1e-9));
      const sn = tf.div(r, stabilize(zn, 1e-9));
      const rp = tf.add(tf.mul(xp, t(sp, kp)), tf.mul(xn, t(sp, kn)));
      const rn = tf.add(tf.mul(xp, t(sn, kn)), tf.mul(xn, t(sn, kp)));
      return tf.sub(tf.mul(rp, alpha), tf.mul(rn, beta));
    }
    case 'z-box': {
      const [l, h] = [tf.fill(x.shape, rule.low), tf.fill(x.shape, rule.high)];
      const [kp, kn] = [pos(kernel), neg(kernel)];
      const z = tf.sub(tf.sub(map.apply(x, kernel, null), map.apply(l, kp, null)), map.apply(h, kn, null));
      const s = tf.div(r, stabilize(z, 1e-9));
      return tf.sub(tf.sub(tf.mul(x, t(s, kernel)), tf.mul(l, t(s, kp))), tf.mul(h, t(s, kn)));
    }
  }
}

/** Per-channel scale as an affine map (BatchNorm): x ⊙ k + b, transpose s ⊙ k. */
const CHANNEL_SCALE: AffineMap = {
  apply: (x, k, b) => (b ? tf.add(tf.mul(x, k), b) : tf.mul(x, k)),
  transpose: (s, k) => tf.mul(s, k),
};

/** Average pooling as an affine map with fixed positive weights (its transpose spreads s back evenly). */
function averagePool(call: LayerCall): AffineMap | undefined {
  const cls = call.className;
  const cfg = call.config;
  if (cls === 'GlobalAveragePooling2D' || cls === 'GlobalAveragePooling1D') {
    const axes = cls === 'GlobalAveragePooling2D' ? [1, 2] : [1];
    return {
      apply: (x) => tf.mean(x, axes),
      transpose: (s, _k, xShape) => {
        const count = axes.reduce((a, ax) => a * xShape[ax]!, 1);
        const shape = xShape.map((d, i) => (axes.includes(i) ? 1 : d));
        return tf.div(tf.broadcastTo(tf.reshape(s, shape), xShape as number[]), count);
      },
    };
  }
  if (cls !== 'AveragePooling2D' || cfg['padding'] === 'same') return undefined;
  const size = pair(cfg['poolSize'], 2);
  const strides = cfg['strides'] == null ? size : pair(cfg['strides'], 1);
  // channels into the batch: a valid average pool is a conv with a constant 1/(kh·kw) kernel
  const ones = (): tf.Tensor4D => tf.fill([size[0], size[1], 1, 1], 1 / (size[0] * size[1])) as tf.Tensor4D;
  return {
    apply: (x) => tf.avgPool(x as tf.Tensor4D, size, strides, 'valid'),
    transpose: (s, _k, xShape) => {
      const [n, h, w, c] = xShape as [number, number, number, number];
      const [, oh, ow] = s.shape as [number, number, number, number];
      const sc = tf.reshape(tf.transpose(s, [0, 3, 1, 2]), [n * c, oh, ow, 1]) as tf.Tensor4D;
      const back = tf.conv2dTranspose(sc, ones(), [n * c, h, w, 1], strides, 'valid');
      return tf.transpose(tf.reshape(back, [n, c, h, w]), [0, 2, 3, 1]);
    },
  };
}

const pair = (v: unknown, dflt: number): [number, number] => (Array.isArray(v) ? [Number(v[0] ?? dflt), Number(v[1] ?? v[0] ?? dflt)] : typeof v === 'number' ? [v, v] : [dflt, dflt]);

/**
 * `value` forward, `backward(dy, x, params)` backward: the relevance of `x`. Tensors the backward
 * pass reads (`params`) are saved with the input: the gradient tape disposes everything else the
 * forward pass made before the backward pass runs.
 */
function withBackward(x: tf.Tensor, value: (x: tf.Tensor) => tf.Tensor, backward: (dy: tf.Tensor, x: tf.Tensor, params: tf.Tensor[]) => tf.Tensor, params: tf.Tensor[] = []): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input, ...params]);
    return { value: value(input), gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => backward(dy as tf.Tensor, saved[0]!, saved.slice(1)) };
  });
  return f(x) as tf.Tensor;
}

/** Per-channel scale and shift of an inference BatchNormalization (channels last). */
function batchNormAffine(call: Pick<LayerCall, 'params' | 'config'>): { scale: tf.Tensor; shift: tf.Tensor } {
  const p = call.params;
  const eps = typeof call.config['epsilon'] === 'number' ? (call.config['epsilon'] as number) : 1e-3;
  const gamma = p['gamma'] ?? tf.onesLike(p['movingMean']!);
  const scale = tf.div(gamma, tf.sqrt(tf.add(p['movingVariance']!, eps)));
  const shift = tf.sub(p['beta'] ?? tf.zerosLike(p['movingMean']!), tf.mul(p['movingMean']!, scale));
  return { scale, shift };
}

/** The rule plan for one model: which rule each affine layer gets, which BatchNorms fold into their producer. */
interface Plan {
  readonly rules: ReadonlyMap<string, LrpRule>;
  /** BatchNorm layer → the affine layer it folds into. */
  readonly foldInto: ReadonlyMap<string, string>;
  /** Affine layer → the BatchNorm folded into it. */
  readonly folded: ReadonlyMap<string, LayerInfo>;
}

function makePlan(layers: readonly LayerInfo[], settings: LrpSettings, method: string): Plan {
  const preset = settings.preset ?? lrp.defaults.preset;
  if (!(LRP_PRESETS as readonly string[]).includes(preset)) {
    throw new InvalidArgumentError(`Setting 'preset' passed to '${method}' must be one of ${LRP_PRESETS.join(', ')}, got '${String(preset)}'`, { arg: 'preset', method });
  }
  const box = settings.box ?? [0, 1];
  const foldInto = new Map<string, string>();
  const folded = new Map<string, LayerInfo>();
  if (settings.foldBatchNorm !== false) {
    const byName = new Map(layers.map((l) => [l.name, l]));
    for (const l of layers) {
      if (l.className !== 'BatchNormalization' || l.inputs.length !== 1 || l.readsInput) continue;
      const p = byName.get(l.inputs[0]!)!;
      if (AFFINE.has(p.className) && p.activation === 'linear' && p.consumers.length === 1) {
        foldInto.set(l.name, p.name);
        folded.set(p.name, l);
      }
    }
  }
  const rules = new Map<string, LrpRule>();
  const firstAffine = layers.find((l) => AFFINE.has(l.className))?.name;
  for (const l of layers) {
    if (!AFFINE.has(l.className) && l.className !== 'BatchNormalization') continue;
    const own = settings.rules?.[l.name] ?? settings.rules?.[l.className];
    let rule: LrpRule;
    if (own) rule = own;
    else if (preset === 'epsilon') rule = { rule: 'epsilon', epsilon: 1e-9 };
    else if (l.name === firstAffine && l.readsInput) rule = { rule: 'z-box', low: box[0], high: box[1] };
    else if (l.className.startsWith('Conv')) rule = { rule: 'gamma', gamma: 0.25 };
    else rule = { rule: 'epsilon', epsilon: 1e-6 };
    rules.set(l.name, rule);
  }
  return { rules, foldInto, folded };
}

/** Checks every layer is one LRP knows; names the first that is not. */
function checkSupported(layers: readonly LayerInfo[], model: string, method: string): void {
  for (const l of layers) {
    const known = AFFINE.has(l.className) || AVERAGE.has(l.className) || PASS.has(l.className) || GRADIENT.has(l.className) || l.className === 'BatchNormalization' || l.className === 'Add';
    if (!known) {
      throw new CapabilityError(
        `'${method}' has no relevance rule for layer '${l.name}' of model '${model}' (type ${l.className}); supported: Dense, Conv1D, Conv2D, BatchNormalization, Add, average and max pooling, Flatten/Reshape/Concatenate, Dropout and elementwise activations`,
        { method, layer: l.name, className: l.className },
      );
    }
    const c = l.config;
    const unsupportedForm =
      (AFFINE.has(l.className) && (c['dataFormat'] === 'channelsFirst' || c['padding'] === 'causal' || [c['dilationRate']].flat().some((d) => d !== undefined && d !== null && d !== 1))) ||
      (l.className === 'AveragePooling2D' && c['padding'] === 'same');
    if (unsupportedForm) {
      throw new CapabilityError(`'${method}' has no relevance rule for layer '${l.name}' of model '${model}' in this form (type ${l.className}: channels-first, causal, dilated, or 'same'-padded average pooling)`, {
        method,
        layer: l.name,
        className: l.className,
      });
    }
    if (!ELEMENTWISE.has(l.activation)) {
      throw new CapabilityError(`'${method}' explains pre-softmax outputs: layer '${l.name}' of model '${model}' ends in activation '${l.activation}'; attribute a model that outputs logits`, {
        method,
        layer: l.name,
        activation: l.activation,
      });
    }
  }
}

/** The layer rule that runs LRP's backward pass through a model, from a plan. */
function lrpLayerRule(plan: Plan): LayerRule {
  return (call) => {
    const x = call.inputs[0]!;
    const cls = call.className;
    if (cls === 'BatchNormalization') {
      if (plan.foldInto.has(call.name)) return withBackward(x, (v) => tf.clone(v), (dy) => tf.clone(dy)); // folded into its producer
      const { scale, shift } = batchNormAffine(call);
      const rule = plan.rules.get(call.name)!;
      const eps: LrpRule = rule.rule === 'epsilon' ? rule : { rule: 'epsilon', epsilon: 1e-9 };
      return withBackward(x, () => call.run() as tf.Tensor, (dy, v, [k, b]) => lrpAffine(v, dy, CHANNEL_SCALE, k!, b!, eps), [scale, shift]);
    }
    if (AFFINE.has(cls) && call.affine) {
      let kernel = call.params['kernel']!;
      let bias: tf.Tensor | null = call.params['bias'] ?? null;
      const bn = plan.folded.get(call.name);
      if (bn) {
        const { scale, shift } = batchNormAffine({ params: bn.params(), config: bn.config });
        kernel = tf.mul(kernel, scale);
        bias = tf.add(tf.mul(bias ?? tf.zerosLike(shift), scale), shift);
      }
      const affine = call.affine;
      const rule = plan.rules.get(call.name)!;
      const params = bias ? [kernel, bias] : [kernel];
      return withBackward(x, (v) => call.activate(affine.apply(v, params[0]!, params[1] ?? null)), (dy, v, [k, b]) => lrpAffine(v, dy, affine, k!, b ?? null, rule), params);
    }
    if (AVERAGE.has(cls)) {
      const pool = averagePool(call)!;
      return withBackward(x, () => call.run() as tf.Tensor, (dy, v) => lrpAffine(v, dy, pool, tf.scalar(1), null, { rule: 'epsilon', epsilon: 1e-9 }));
    }
    if (cls === 'Add') {
      const sum = call.run() as tf.Tensor;
      const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const ins = args.slice(0, call.inputs.length) as tf.Tensor[];
        (args[call.inputs.length] as tf.GradSaveFunc)(ins);
        return {
          value: tf.clone(sum),
          gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
            const s = tf.div(dy as tf.Tensor, stabilize(tf.addN(saved), 1e-9));
            return saved.map((t) => tf.mul(t, s));
          },
        };
      });
      return f(...call.inputs) as tf.Tensor;
    }
    if (PASS.has(cls)) return withBackward(x, () => call.run() as tf.Tensor, (dy) => tf.clone(dy));
    return undefined; // GRADIENT layers: their own gradient routes relevance
  };
}

/**
 * Layer-wise Relevance Propagation (Bach et al. 2015; Montavon et al. 2019), with Captum's
 * convention: relevance starts as 1 at the target, is propagated by each layer's rule (ε, γ, αβ,
 * z-box for affine layers; ε for average pooling and residual adds; winner-take-all through
 * max-pooling; unchanged through activations), and is scaled by F_t(x) at the end, so that
 * Σ attr ≈ F_t(x) (exactly, for ε → 0 and bias-free layers). BatchNorm folds into the layer before it.
 * `convergenceDelta` = Σ attr − F_t(x), the relevance absorbed by biases and stabilisers.
 *
 * Cost: `batch` forward+backward rows plus `batch` forward rows.
 * @see Bach et al. (2015), https://doi.org/10.1371/journal.pone.0130140; Montavon et al. (2019), https://doi.org/10.1007/978-3-030-28954-6_10
 * @throws {CapabilityError} naming the first layer without a rule (and its type).
 * @example
 * ```ts
 * using r = await new Lrp(model, { preset: 'composite' }).attribute(images, { target: 'auto' });
 * ```
 */
export class Lrp implements Attributor<AttributeOptions> {
  readonly id = 'lrp' as const;
  private readonly ruled: DifferentiableModel;
  constructor(model: HookedModel, settings: LrpSettings = {}) {
    requireHooks(model, 'Lrp');
    const layers = model.describeLayers();
    checkSupported(layers, model.name, 'Lrp');
    this.ruled = model.withRules({ layer: lrpLayerRule(makePlan(layers, settings, 'Lrp')) });
  }

  cost(shape: readonly number[]): number {
    return 2 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    const fn = 'Lrp.attribute';
    const { model, run, target, batchSize } = await prepare(this.ruled, x, opts, { fn, cost: this.cost(x?.shape ?? []), exact: true });
    const normalized = await gradientsInBatches(model, x, target, run, batchSize, fn);
    let fx: Float32Array;
    try {
      // the rules change backward passes only: the ruled model's forward is the model's
      fx = await evaluateObjective(model, x, target, run, batchSize, fn);
    } catch (e) {
      normalized.dispose();
      throw e;
    }
    const n = x.shape[0]!;
    const values = tf.tidy(() => tf.mul(normalized, tf.reshape(tf.tensor1d(fx), [n, ...x.shape.slice(1).map(() => 1)])));
    normalized.dispose();
    const sums = tf.tidy(() => tf.sum(tf.reshape(values, [n, -1]), 1));
    const s = (await sums.data()) as Float32Array;
    sums.dispose();
    const convergenceDelta = Float32Array.from(s, (v, i) => v - fx[i]!);
    return new FeatureAttribution(this.id, values, withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
  }
}

/** LRP (ε, γ, αβ, z-box; composite preset)'s one declaration: catalogue entry, CLI flags and defaults. */
export const lrp = defineMethod({
  id: 'lrp',
  rules: true,
  title: 'LRP (ε, γ, αβ, z-box; composite preset)',
  family: 'backprop',
  requires: 'hooks',
  cost: 'batch × 2',
  reference: 'Bach et al. 2015, PLoS ONE 10:e0130140; Montavon et al. 2019',
  stochastic: false,
  output: 'feature',
  options: { preset: { type: 'enum', values: LRP_PRESETS, help: 'epsilon everywhere, or z-box/γ/ε by layer type', default: 'epsilon' } },
  create: (m: ModelAdapter, st) => new Lrp(hookedModel(m, 'Lrp'), enumSetting(st, 'preset', LRP_PRESETS, 'Lrp')),
});
