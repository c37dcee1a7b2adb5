import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { assertBatch } from '../core/assert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { pearson } from '../core/linalg.js';
import { ranks } from '../core/rank.js';
import type { AttributeOptions, Attributor } from '../core/types.js';

export interface RandomizationOptions extends AttributeOptions {
  /** 'cascading': randomise layers from the output down, cumulatively; 'independent': one layer at a time. Default 'cascading'. */
  readonly mode?: 'cascading' | 'independent';
  /** Rank correlation at or above which the method is flagged as insensitive to the model. Default 0.5. */
  readonly threshold?: number;
}

export interface RandomizationStep {
  /** Layers randomised at this step. */
  readonly layers: readonly string[];
  /** Spearman rank correlation of |attribution| before and after, per input row. */
  readonly correlation: readonly number[];
}

export interface RandomizationReport {
  readonly steps: readonly RandomizationStep[];
  /** Mean correlation after the last step (every layer randomised, in cascading mode). */
  readonly finalCorrelation: number;
  /** True when the attributions stayed correlated with the originals although the model was destroyed. */
  readonly insensitive: boolean;
}

/**
 * Model-randomisation sanity check (Adebayo et al. 2018): re-initialise the layers (those with weights) of a TF.js
 * layers model (from the output down, cumulatively, or one at a time) with seeded noise of each
 * weight's own scale, recompute the attributions, and measure their Spearman rank correlation with the
 * originals. A method whose maps barely change explains the input, not the model: it is flagged.
 * The model's weights are restored afterwards, even on error.
 *
 * Cost: (layers + 1) calls of the method.
 * @see Adebayo et al. (2018) Sanity Checks for Saliency Maps, https://arxiv.org/abs/1810.03292
 */
export async function modelRandomization(net: LayersModel, method: Attributor<AttributeOptions>, x: tf.Tensor, opts: RandomizationOptions): Promise<RandomizationReport> {
  const fn = 'modelRandomization';
  assertBatch(x, 'x', fn);
  const layers = net.layers.filter((l) => l.weights.length > 0);
  if (layers.length === 0) throw new InvalidArgumentError(`'${fn}' needs a model with weights`, { fn });
  const mode = opts.mode ?? 'cascading';
  const original = net.getWeights().map((w) => w.clone());
  const rng = new Rng(opts.seed ?? 0);
  const { mode: _m, threshold: _t, ...methodOpts } = opts;
  try {
    const base = await attributionRanks(method, x, methodOpts as AttributeOptions);
    const steps: RandomizationStep[] = [];
    const order = [...layers].reverse(); // top (output) layer first
    for (let k = 0; k < order.length; k++) {
      if (mode === 'independent') net.setWeights(original);
      // cascading keeps the layers above randomised; independent restored them just before
      const layer = order[k]!;
      const replaced = layer.getWeights().map((w) => {
        const d = w.dataSync();
        let s = 0;
        for (const v of d) s += v * v;
        const std = Math.sqrt(s / Math.max(1, d.length)) || 0.05;
        return tf.tensor(rng.fillNormal(new Float32Array(w.size), std), w.shape);
      });
      layer.setWeights(replaced);
      tf.dispose(replaced);
      const ranks = await attributionRanks(method, x, methodOpts as AttributeOptions);
      const names = mode === 'cascading' ? order.slice(0, k + 1).map((l) => l.name) : [order[k]!.name];
      steps.push({ layers: names, correlation: ranks.map((r, i) => spearmanFromRanks(base[i]!, r)) });
    }
    const last = steps[steps.length - 1]!.correlation;
    const finalCorrelation = last.reduce((a, b) => a + b, 0) / last.length;
    return { steps, finalCorrelation, insensitive: finalCorrelation >= (opts.threshold ?? 0.5) };
  } finally {
    net.setWeights(original);
    tf.dispose(original);
  }
}

/** Ranks of |attribution| per row (average ranks for ties). */
async function attributionRanks(method: Attributor<AttributeOptions>, x: tf.Tensor, opts: AttributeOptions): Promise<Float64Array[]> {
  const attr = await method.attribute(x, opts);
  const a = await attr.values.data();
  attr.dispose();
  const n = x.shape[0]!;
  const e = a.length / n;
  return Array.from({ length: n }, (_, i) => ranks(Array.from(a.subarray(i * e, (i + 1) * e), Math.abs)));
}

/** Pearson correlation of two rank vectors (= Spearman's ρ with ties averaged); 1 when a side is constant. */
function spearmanFromRanks(a: Float64Array, b: Float64Array): number {
  const rho = pearson(a, b);
  return Number.isNaN(rho) ? 1 : rho;
}
