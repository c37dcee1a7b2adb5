import * as tf from '@tensorflow/tfjs-core';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { objectiveFor, rangeIds, targetList, type ResolvedTarget } from '../../core/target.js';
import type { Budget } from '../../core/budget.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../core/errors.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireHooks, type ActivationRule, type ActivationSite, type DifferentiableModel, type HookedModel, type LayerRule, type RuleSet, type ModelAdapter } from '../../models/model.js';
import { routeMaxPoolGrad, type Pool2dSpec } from '../../models/tfjs/pooling.js';
import { assertOneOf } from '../../core/assert.js';
import { completenessGap, evaluateObjective, rowSums } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { enumSetting, hookedModel } from '../internal/options.js';

/** Below this |z − z₀| the rescale multiplier falls back to the ordinary derivative (Captum's eps). */
const EPS = 1e-10;

/** f'(z) of an elementwise activation. The caller owns the result. */
function derivative(site: ActivationSite, z: tf.Tensor): tf.Tensor {
  if (site.activation === 'relu') return tf.step(z);
  return tf.grad((v: tf.Tensor) => site.apply(v))(z);
}

/**
 * DeepLIFT's Rescale rule on a batch that holds the inputs in its first half and their baselines in
 * its second: each activation's backward pass multiplies by (f(z) − f(z₀)) / (z − z₀), the same
 * multiplier for both halves (Captum's layout), or by f'(z) where |z − z₀| < 1e-10.
 */
export const RESCALE: ActivationRule = (z, site) => {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input]);
    return {
      value: site.apply(input),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const all = saved[0]!;
        const m = all.shape[0]! / 2;
        const zx = tf.slice(all, 0, m);
        const zb = tf.slice(all, m, m);
        const dz = tf.sub(zx, zb);
        const small = tf.less(tf.abs(dz), EPS);
        const ratio = tf.div(tf.sub(site.apply(zx), site.apply(zb)), tf.where(small, tf.onesLike(dz), dz));
        const multX = tf.where(small, derivative(site, zx), ratio);
        const multB = tf.where(small, derivative(site, zb), ratio);
        return tf.mul(dy as tf.Tensor, tf.concat([multX, multB], 0));
      },
    };
  });
  return f(z) as tf.Tensor;
};

/** How DeepLIFT passes multipliers through max-pooling. */
export const DEEPLIFT_MAXPOOL = ['gradient', 'exact'] as const;
export type DeepLiftMaxPool = (typeof DEEPLIFT_MAXPOOL)[number];

export interface DeepLiftSettings {
  /**
   * 'gradient' (default): the ordinary max-pool gradient, which is what Captum 0.8 computes on a
   * ReLU → MaxPool network. 'exact': DeepLIFT's max-pool rule (Captum's own, when it is not
   * shadowed): the change of each window's maximum goes to the arg-max of the input and of the
   * baseline and is divided by their changes, so completeness holds through pooling.
   */
  readonly maxPool?: DeepLiftMaxPool;
}

/**
 * DeepLIFT's max-pool rule as a layer rule (MaxPooling2D, channels last) on an input/baseline batch:
 * with y, y₀ the window maxima and M = max(y, y₀), the input half routes dy·(M − y₀) to its arg-max,
 * the baseline half dy·(y − M) to its own; their sum U, divided by Δx (the ordinary gradient where
 * |Δx| < 1e-10), is each half's multiplier. Σ m Δx = Δy per window: complete.
 */
export const EXACT_MAXPOOL: LayerRule = (call) => {
  if (call.className !== 'MaxPooling2D' || !(call.config['dataFormat'] === undefined || call.config['dataFormat'] === 'channelsLast')) return undefined;
  const pool = pair(call.config['poolSize'], 2);
  const spec: Pool2dSpec = { poolSize: pool, strides: call.config['strides'] == null ? pool : pair(call.config['strides'], 1), padding: call.config['padding'] === 'same' ? 'same' : 'valid' };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor4D;
    (args[1] as tf.GradSaveFunc)([input]);
    return {
      value: tf.maxPool(input, spec.poolSize as [number, number], spec.strides as [number, number], spec.padding),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const all = saved[0] as tf.Tensor4D;
        const g = dy as tf.Tensor4D;
        const m = all.shape[0] / 2;
        const [zx, zb] = [tf.slice(all, 0, m), tf.slice(all, m, m)];
        const [gx, gb] = [tf.slice(g, 0, m), tf.slice(g, m, m)];
        const pool2 = (t: tf.Tensor4D) => tf.maxPool(t, spec.poolSize as [number, number], spec.strides as [number, number], spec.padding);
        const [y, y0] = [pool2(zx), pool2(zb)];
        const top = tf.maximum(y, y0);
        const u = tf.add(routeMaxPoolGrad(tf.mul(gx, tf.sub(top, y0)), zx, spec), routeMaxPoolGrad(tf.mul(gb, tf.sub(y, top)), zb, spec));
        const dz = tf.sub(zx, zb);
        const small = tf.less(tf.abs(dz), EPS);
        const ratio = tf.div(u, tf.where(small, tf.onesLike(dz), dz));
        const multX = tf.where(small, routeMaxPoolGrad(gx, zx, spec), ratio);
        const multB = tf.where(small, routeMaxPoolGrad(gb, zb, spec), ratio);
        return tf.concat([multX, multB], 0);
      },
    };
  });
  return f(call.inputs[0]!) as tf.Tensor;
};

const pair = (v: unknown, dflt: number): [number, number] => (Array.isArray(v) ? [Number(v[0] ?? dflt), Number(v[1] ?? v[0] ?? dflt)] : typeof v === 'number' ? [v, v] : [dflt, dflt]);

/**
 * DeepLIFT with the Rescale rule (Captum `DeepLift`, `multiply_by_inputs=True`): multipliers are
 * back-propagated like gradients except that every elementwise activation uses
 * (f(z) − f(z₀)) / (z − z₀) for the input's and baseline's pre-activations z, z₀; attr = m ⊙ (x − b).
 * Max-pooling uses its ordinary gradient (first maximum), which is what Captum 0.8 computes on a
 * ReLU → MaxPool network (its MaxPool rule is shadowed; see the reference README), so completeness
 * is exact on ReLU MLPs and approximate through max-pooling; `maxPool: 'exact'` applies DeepLIFT's
 * max-pool rule instead and restores completeness. Softmax keeps its ordinary gradient.
 *
 * Cost: `2 × batch` forward+backward rows (inputs and baselines in one batch) plus `2 × batch`
 * forward rows for the completeness gap (`convergenceDelta`).
 * @see Shrikumar, Greenside, Kundaje (2017), https://arxiv.org/abs/1704.02685
 * @example
 * ```ts
 * using attr = await new DeepLift(model).attribute(x, { target: 'auto' });
 * ```
 */
export class DeepLift implements Attributor<AttributeOptions> {
  readonly id = 'deeplift' as const;
  private readonly ruled: DifferentiableModel;
  constructor(model: HookedModel, settings: DeepLiftSettings = {}) {
    requireHooks(model, 'DeepLift');
    this.ruled = model.withRules(deepLiftRules(settings, 'DeepLift'));
  }

  cost(shape: readonly number[]): number {
    return 4 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    const fn = 'DeepLift.attribute';
    const { model, run, target, batchSize, n } = await prepare(this.ruled, x, opts, { fn, cost: this.cost(x?.shape ?? []), exact: true });
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      const values = keep(await rescaleAttributions(model, x, base, rangeIds(0, n), target, run, batchSize, fn));
      // the rule changes backward passes only: the ruled model's forward is the model's
      const [fx, fb] = [await evaluateObjective(model, x, target, run, batchSize, fn), await evaluateObjective(model, base, target, run, batchSize, fn)];
      const convergenceDelta = completenessGap(await rowSums(values), fx, fb);
      return new FeatureAttribution(this.id, values.clone(), withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
    });
  }
}

/**
 * m ⊙ (x − b) for rows of `x` and `base` (same shape), multipliers m from the Rescale rule: inputs and
 * baselines go through the ruled model together, `batchSize / 2` pairs per call. `rowOf` gives the
 * input row (of the attribute call) each row belongs to. The caller owns the result.
 */
export async function rescaleAttributions(
  model: DifferentiableModel,
  x: tf.Tensor,
  base: tf.Tensor,
  rowOf: Int32Array,
  target: ResolvedTarget,
  run: Budget,
  batchSize: number,
  fn: string,
): Promise<tf.Tensor> {
  const half = Math.max(1, Math.floor(batchSize / 2));
  const parts: tf.Tensor[] = [];
  try {
    for (const [s, e] of chunks(x.shape[0]!, half)) {
      await run.checkpoint(2 * (e - s));
      const ids = new Int32Array(2 * (e - s));
      for (let i = 0; i < e - s; i++) ids[i] = ids[i + e - s] = rowOf[s + i]!;
      const xs = tf.slice(x, s, e - s);
      const bs = tf.slice(base, s, e - s);
      const both = tf.concat([xs, bs], 0);
      let g: tf.Tensor;
      try {
        g = await model.gradients(both, objectiveFor(target, ids, fn), { rows: ids });
      } catch (err) {
        tf.dispose([xs, bs]);
        throw err;
      } finally {
        both.dispose();
      }
      parts.push(tf.tidy(() => tf.mul(tf.slice(g, 0, e - s), tf.sub(xs, bs))));
      tf.dispose([g, xs, bs]);
    }
    const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    if (parts.length === 1) parts.length = 0; // the single part is the result
    return out;
  } finally {
    // the parts of a concatenated result, or everything gathered before a failure
    tf.dispose(parts);
  }
}

/**
 * DeepLiftShap (Captum `DeepLiftShap`): DeepLIFT against every sample of a baseline distribution
 * (`baselines`: a tensor [samples, ...features]), averaged: SHAP values of the model linearised by
 * the Rescale rule. `convergenceDelta` = Σ attr − (F(x) − mean_k F(b_k)).
 *
 * Cost: `batch × samples × 3` rows (pairs forward+backward, then the baselines' outputs) + `batch`.
 * @see Lundberg & Lee (2017), https://arxiv.org/abs/1705.07874
 */
export class DeepLiftShap implements Attributor<AttributeOptions> {
  readonly id = 'deeplift-shap' as const;
  private readonly ruled: DifferentiableModel;
  constructor(model: HookedModel, settings: DeepLiftSettings = {}) {
    requireHooks(model, 'DeepLiftShap');
    this.ruled = model.withRules(deepLiftRules(settings, 'DeepLiftShap'));
  }

  cost(shape: readonly number[], opts: Partial<AttributeOptions> = {}): number {
    const n = shape[0] ?? 1;
    const b = opts.baselines instanceof tf.Tensor ? opts.baselines.shape[0]! : 1;
    return 3 * n * b + n;
  }

  async attribute(x: tf.Tensor, opts: AttributeOptions): Promise<FeatureAttribution> {
    const fn = 'DeepLiftShap.attribute';
    const dist = opts?.baselines;
    if (!(dist instanceof tf.Tensor) || dist.rank !== (x?.rank ?? -1) || dist.shape[0]! < 1) {
      throw new InvalidArgumentError(`Argument 'baselines' passed to '${fn}' must be a distribution of baselines: a tensor [samples, ${x?.shape?.slice(1).join(', ') ?? '…'}]`, { arg: 'baselines', fn });
    }
    assertSameRowShape(dist, x, fn);
    const { model, run, target, batchSize, n } = await prepare(this.ruled, x, opts, { fn, cost: this.cost(x.shape, opts), exact: true });
    const samples = dist.shape[0]!;
    const rowOf = Int32Array.from({ length: n * samples }, (_, i) => Math.floor(i / samples));
    return withScope(async (keep) => {
      // each input row next to every baseline sample (built on the host: device gathers are slow on wasm)
      const [xd, bd] = [(await x.data()) as Float32Array, (await dist.data()) as Float32Array];
      const e = xd.length / n;
      const xe = new Float32Array(n * samples * e);
      const be = new Float32Array(n * samples * e);
      for (let i = 0; i < n; i++)
        for (let k = 0; k < samples; k++) {
          xe.set(xd.subarray(i * e, (i + 1) * e), (i * samples + k) * e);
          be.set(bd.subarray(k * e, (k + 1) * e), (i * samples + k) * e);
        }
      const shape = [n * samples, ...x.shape.slice(1)];
      const xs = keep(tf.tensor(xe, shape));
      const bs = keep(tf.tensor(be, shape));
      const each = keep(await rescaleAttributions(model, xs, bs, rowOf, target, run, batchSize, fn));
      const values = keep(tf.tidy(() => tf.mean(tf.reshape(each, [n, samples, ...x.shape.slice(1)]), 1)));
      const fx = await evaluateObjective(model, x, target, run, batchSize, fn);
      const fbAll = await evaluateObjective(model, bs, target, run, batchSize, fn, rowOf);
      const fb = Float32Array.from({ length: n }, (_, i) => fbAll.subarray(i * samples, (i + 1) * samples).reduce((a, v) => a + v, 0) / samples);
      const convergenceDelta = completenessGap(await rowSums(values), fx, fb);
      return new FeatureAttribution(this.id, values.clone(), withTargets({ ...run.finish(), convergenceDelta }, targetList(target)));
    });
  }
}

/** The rules of a DeepLIFT variant. */
export function deepLiftRules(settings: DeepLiftSettings, method: string): RuleSet {
  const maxPool = settings.maxPool ?? deepLift.defaults.maxPool;
  assertOneOf(maxPool, DEEPLIFT_MAXPOOL, 'maxPool', method);
  return maxPool === 'exact' ? { activation: RESCALE, layer: EXACT_MAXPOOL } : { activation: RESCALE };
}

function assertSameRowShape(b: tf.Tensor, x: tf.Tensor, fn: string): void {
  const a = b.shape.slice(1);
  const want = x.shape.slice(1);
  if (a.length !== want.length || a.some((d, i) => d !== want[i])) {
    throw new ShapeMismatchError(`Argument 'baselines' passed to '${fn}' must have rows shaped like the input's [${want.join(', ')}], got [${b.shape.join(', ')}]`, {
      arg: 'baselines',
      fn,
      expected: want,
      actual: b.shape,
    });
  }
}

/** DeepLIFT (Rescale)'s one declaration: catalogue entry, CLI flags and defaults. */
/** The max-pool rule option of DeepLIFT and DeepLiftShap. */
const maxPoolOption = { type: 'enum', values: DEEPLIFT_MAXPOOL, help: "max-pooling: Captum's gradient, or DeepLIFT's exact (complete) rule", default: 'gradient' } as const;

export const deepLift = defineMethod({
  id: 'deeplift',
  rules: true,
  title: 'DeepLIFT (Rescale)',
  family: 'backprop',
  requires: 'hooks',
  cost: 'batch × 4',
  reference: 'Shrikumar et al. 2017, arXiv:1704.02685',
  stochastic: false,
  output: 'feature',
  options: { maxPool: maxPoolOption },
  create: (m: ModelAdapter, st) => new DeepLift(hookedModel(m, 'DeepLift'), enumSetting(st, 'maxPool', DEEPLIFT_MAXPOOL, 'DeepLift')),
});

/** DeepLiftShap's one declaration: catalogue entry, CLI flags and defaults. */
export const deepLiftShap = defineMethod({
  id: 'deeplift-shap',
  rules: true,
  title: 'DeepLiftShap',
  family: 'backprop',
  requires: 'hooks',
  cost: 'batch × (3 × baselines + 1)',
  reference: 'Lundberg & Lee 2017, arXiv:1705.07874; Captum DeepLiftShap',
  stochastic: false,
  output: 'feature',
  options: { maxPool: maxPoolOption },
  create: (m: ModelAdapter, st) => new DeepLiftShap(hookedModel(m, 'DeepLiftShap'), enumSetting(st, 'maxPool', DEEPLIFT_MAXPOOL, 'DeepLift')),
});
