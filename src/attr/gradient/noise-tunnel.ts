import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertNonNegative, assertOneOf, assertPositiveInt } from '../../core/assert.js';
import { Budget } from '../../core/budget.js';
import { InvalidArgumentError, UnknownMethodError } from '../../core/errors.js';
import { FeatureAttribution } from '../../core/result.js';
import { Rng } from '../../core/random.js';
import { checkTarget } from '../../core/target.js';
import { resolveTarget } from '../../models/target.js';
import { resolveBatchSize } from '../../core/batching.js';
import type { AttributeOptions, Attributor, Target } from '../../core/types.js';
import type { ModelAdapter } from '../../models/model.js';
import { bindInputs, samplesWithin } from '../internal/prepare.js';
import { defineMethod } from '../../core/method.js';
import { seedOption } from '../internal/options.js';

export type NoiseTunnelType = 'smoothgrad' | 'smoothgrad-sq' | 'vargrad';
export const NOISE_TUNNEL_TYPES: readonly NoiseTunnelType[] = ['smoothgrad', 'smoothgrad-sq', 'vargrad'];

export interface NoiseTunnelOptions extends AttributeOptions {
  /** Noisy copies per input (Captum `nt_samples`). Default 5. */
  readonly samples?: number;
  /** Standard deviation of the Gaussian noise, in input units (Captum `stdevs`). Default 1. */
  readonly stdevs?: number;
  /** Default 'smoothgrad'. */
  readonly type?: NoiseTunnelType;
}

/**
 * NoiseTunnel: runs any attribution method on `samples` noisy copies x + ε, ε ~ N(0, stdevs²), and
 * aggregates: mean (smoothgrad), mean of squares (smoothgrad-sq) or variance (vargrad). The wrapped
 * method's options (steps, rule, …) pass through; `samples`, `stdevs` and `type` are NoiseTunnel's. `diagnostics.stderr` is the standard error of the
 * smoothgrad mean.
 *
 * Cost: `samples ×` the wrapped method's cost. Anytime: with a smaller `maxEvaluations` it uses as many
 * noisy copies as fit and reports `truncated: true`.
 *
 * @see Smilkov et al. (2017) SmoothGrad, https://arxiv.org/abs/1706.03825; Adebayo et al. (2018) VarGrad
 */
export class NoiseTunnel<O extends AttributeOptions = AttributeOptions> implements Attributor<O & NoiseTunnelOptions> {
  readonly id = 'noise-tunnel' as const;
  constructor(
    private readonly inner: Attributor<O>,
    private readonly model?: ModelAdapter,
  ) {}

  cost(shape: readonly number[], opts: O & NoiseTunnelOptions): number {
    const samples = opts.samples ?? noiseTunnel.defaults.samples;
    return samples * this.inner.cost([shape[0] ?? 1, ...shape.slice(1)], innerOptionsOf(opts)) + (opts.target === 'auto' ? (shape[0] ?? 1) : 0);
  }

  async attribute(x: tf.Tensor, opts: O & NoiseTunnelOptions): Promise<FeatureAttribution> {
    const fn = 'NoiseTunnel.attribute';
    assertBatch(x, 'x', fn);
    const n = x.shape[0]!;
    checkTarget(opts?.target, n, fn);
    const requested = opts.samples ?? noiseTunnel.defaults.samples;
    const stdevs = opts.stdevs ?? noiseTunnel.defaults.stdevs;
    const type = opts.type ?? noiseTunnel.defaults.type;
    assertPositiveInt(requested, 'samples', fn);
    assertNonNegative(stdevs, 'stdevs', fn);
    assertOneOf(type, NOISE_TUNNEL_TYPES, 'type', fn);
    const batchSize = resolveBatchSize(opts.batchSize, fn);
    // anytime: fewer noisy copies when maxEvaluations is smaller than the full cost
    const { samples, truncated } = samplesWithin(opts, n, requested, (s) => this.cost(x.shape, { ...opts, samples: s, target: 0 }), 1);
    const run = Budget.start(opts, { total: this.cost(x.shape, { ...opts, samples }), fn, exact: true, ...(this.model ? { model: this.model } : {}) });
    if (truncated) run.markTruncated();
    let target: Target = opts.target;
    if (target === 'auto') {
      if (!this.model) {
        throw new InvalidArgumentError(`'${fn}' needs the model (new NoiseTunnel(method, model)) to resolve target 'auto'`, { arg: 'target', fn });
      }
      // with the call's fixed extra inputs bound, as every model call of the inner method gets them
      const r = await resolveTarget(bindInputs(this.model, opts.inputs, n, fn), x, 'auto', run, batchSize, fn);
      if (r.kind === 'index') target = Array.from(r.indices);
    }
    const rng = new Rng(opts.seed ?? noiseTunnel.defaults.seed);
    // samples per inner call, so that one call sees about one batch of rows
    const perCall = Math.max(1, Math.min(samples, Math.floor(batchSize / n)));
    const innerOptions = innerOptionsOf(opts);
    const xd = (await x.data()) as Float32Array;
    const e = xd.length / n;
    // running sums on the host (reductions over a leading axis are slow on some backends)
    const sum = new Float64Array(n * e);
    const sumSq = new Float64Array(n * e);
    for (let s0 = 0; s0 < samples; s0 += perCall) {
      const k = Math.min(perCall, samples - s0);
      const noisyData = new Float32Array(k * n * e);
      for (let c = 0; c < k; c++) for (let q = 0; q < n * e; q++) noisyData[c * n * e + q] = xd[q]! + rng.normal() * stdevs;
      const noisy = tf.tensor(noisyData, [k * n, ...x.shape.slice(1)]);
      let res;
      const tiled = opts.inputs && k > 1 ? tileInputs(opts.inputs, k) : opts.inputs;
      try {
        const remaining = run.remaining();
        res = await this.inner.attribute(noisy, {
          ...innerOptions,
          target: expandTarget(target, n, k),
          ...(tiled ? { inputs: tiled } : {}),
          seed: rng.nextUint32(),
          ...(Number.isFinite(remaining) ? { maxEvaluations: remaining } : {}),
          onProgress: undefined,
        } as O);
      } finally {
        noisy.dispose();
        if (tiled && tiled !== opts.inputs) for (const t of Object.values(tiled)) t.dispose();
      }
      try {
        await run.checkpoint(res.diagnostics.evaluations);
        const a = await res.values.data();
        for (let c = 0; c < k; c++) {
          for (let q = 0; q < n * e; q++) {
            const v = a[c * n * e + q]!;
            sum[q]! += v;
            sumSq[q]! += v * v;
          }
        }
      } finally {
        res.dispose();
      }
    }
    const values = new Float32Array(n * e);
    const se = new Float32Array(n * e);
    for (let q = 0; q < n * e; q++) {
      const mean = sum[q]! / samples;
      const meanSq = sumSq[q]! / samples;
      const variance = Math.max(0, meanSq - mean * mean);
      values[q] = type === 'smoothgrad' ? mean : type === 'smoothgrad-sq' ? meanSq : variance;
      se[q] = Math.sqrt(variance / Math.max(1, samples - 1));
    }
    const targets = typeof target === 'number' ? Array.from({ length: n }, () => target as number) : Array.isArray(target) ? [...(target as number[])] : undefined;
    const stderr = tf.tensor(se, x.shape);
    return new FeatureAttribution(this.id, tf.tensor(values, x.shape), { ...run.finish(), stderr, ...(targets ? { targets } : {}) });
  }
}

/** The fixed extra inputs for k stacked copies of the batch. The caller owns the returned tensors. */
function tileInputs(inputs: Readonly<Record<string, tf.Tensor>>, k: number): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, tf.concat(Array.from({ length: k }, () => t), 0)]));
}

/** The target for k stacked copies of an n-row batch. */
function expandTarget(target: Target, n: number, k: number): Target {
  if (typeof target === 'number' || typeof target === 'function') return target;
  if (target === 'auto') return target;
  const arr = target as readonly number[];
  return Array.from({ length: k * n }, (_, i) => arr[i % n]!);
}

/** The options for the wrapped method: NoiseTunnel's own `samples`, `stdevs` and `type` are not its (it keeps its defaults). */
function innerOptionsOf<O extends AttributeOptions>(opts: O & NoiseTunnelOptions): O {
  const { samples: _samples, stdevs: _stdevs, type: _type, ...rest } = opts;
  return rest as unknown as O;
}

/** NoiseTunnel's one declaration: catalogue entry, CLI flags and defaults. `inner` is looked up in the catalogue. */
export const noiseTunnel = defineMethod({
  id: 'noise-tunnel',
  title: 'NoiseTunnel (SmoothGrad, SmoothGrad², VarGrad)',
  family: 'gradient',
  requires: 'gradients',
  cost: 'samples × inner cost',
  reference: 'Smilkov et al. 2017, arXiv:1706.03825; Adebayo et al. 2018',
  stochastic: true,
  output: 'feature',
  options: {
    inner: { type: 'method', help: 'wrapped method id', default: 'saliency' },
    type: { type: 'enum', values: NOISE_TUNNEL_TYPES, help: 'aggregation', default: 'smoothgrad' },
    samples: { type: 'int', help: 'noisy copies per input', default: 5 },
    stdevs: { type: 'number', help: 'noise standard deviation (input units)', default: 1 },
    ...seedOption,
  },
  create: (m: ModelAdapter, settings, lookup) => {
    const inner = settings?.inner;
    if (!lookup) throw new InvalidArgumentError(`noise-tunnel needs the method catalogue to find its inner method (use findMethod('noise-tunnel'))`, { method: 'noise-tunnel' });
    const wrapped = lookup(inner ?? noiseTunnel.defaults.inner);
    if (wrapped.id === 'noise-tunnel') throw new UnknownMethodError(`noise-tunnel cannot wrap itself`, { method: inner });
    return new NoiseTunnel(wrapped.create(m, undefined, lookup), m);
  },
});
