import * as tf from '@tensorflow/tfjs-core';
import { assertOneOf } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import { CapabilityError } from '../../core/errors.js';
import { LayerAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { evaluateObjective } from '../internal/evaluate.js';
import { scoreBatch } from '../internal/perturb.js';
import { prepare } from '../internal/prepare.js';
import { resizeTo, toChannelsLast, UPSAMPLE_MODES, type CamOptions, camOptions } from './cam.js';
import { activationsOf, LayerMethod, type LayerMethodSettings } from './internal.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor, lastSpatialLayer } from './layer-of.js';

/**
 * Score-CAM (Wang et al. 2020): gradient-free CAM. Each channel k of the layer's output, upsampled
 * (bilinear) to the input and min–max normalised per image, masks the input, H_k ⊙ x (generally
 * b + H_k ⊙ (x − b)); its weight is the target's increase over the baseline, α_k = F_t(masked_k) −
 * F_t(b); map = ReLU(Σ_k α_k A_k) at the layer's resolution (optionally upsampled; `relu: false` keeps the sign). The paper scores
 * softmax probabilities: pass a function target for that (e.g. the softmax of the logits at t).
 *
 * Cost: `batch × (channels + 2)` forward rows (one per channel mask, the baseline, the activations).
 * @see Wang et al. (2020), https://arxiv.org/abs/1910.01279
 */
export class ScoreCam extends LayerMethod implements Attributor<CamOptions> {
  readonly id = 'score-cam' as const;
  private readonly shape: readonly (number | null)[];
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'ScoreCam');
    const shape = model.hookShape(this.layer);
    this.shape = shape;
    if (shape.length !== 4 || typeof shape[3] !== 'number') {
      throw new CapabilityError(
        `'ScoreCam' needs a layer with 2-D spatial dims ([batch, h, w, channels]); layer '${this.layer}' of model '${model.name}' has shape [${shape.map((d) => d ?? '*').join(', ')}]: pick a convolutional layer`,
        { method: 'ScoreCam', layer: this.layer, shape },
      );
    }
  }

  private channels(opts: Partial<CamOptions> = {}): number {
    return (opts.channelsFirst ? this.shape[1] : this.shape[3]) as number;
  }

  cost(shape: readonly number[], opts: Partial<CamOptions> = {}): number {
    return (shape[0] ?? 1) * (this.channels(opts) + 2);
  }

  async attribute(x: tf.Tensor, opts: CamOptions): Promise<LayerAttribution> {
    const fn = 'ScoreCam.attribute';
    const upsample = opts?.upsample ?? scoreCam.defaults.upsample;
    assertOneOf(upsample, UPSAMPLE_MODES, 'upsample', fn);
    if (x?.rank !== 4) {
      throw new CapabilityError(`'${fn}' masks image inputs [batch, H, W, C]; got an input of shape [${x?.shape?.join(', ')}]`, { fn, arg: 'x' });
    }
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, opts), exact: true });
    const [, H, W, C] = x.shape as [number, number, number, number];
    const K = this.channels(opts);
    const raw = await activationsOf(this.model, this.layer, x, opts.inputs, batchSize, run);
    const acts = opts.channelsFirst ? tf.tidy(() => toChannelsLast(raw)) : raw;
    if (acts !== raw) raw.dispose();
    const base = resolveBaseline(opts.baselines, x, fn);
    try {
      const fb = await evaluateObjective(model, base, target, run, batchSize, fn);
      const [xd, bd] = [(await x.data()) as Float32Array, (await base.data()) as Float32Array];
      const alpha = new Float32Array(n * K);
      const px = H * W;
      for (let i = 0; i < n; i++) {
        // the row's channel maps at the input's size, min–max normalised per channel
        const up = tf.tidy(() => tf.image.resizeBilinear(tf.slice(acts, i, 1) as tf.Tensor4D, [H, W], false, true));
        const masks = (await up.data()) as Float32Array;
        up.dispose();
        for (let k = 0; k < K; k++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let p = 0; p < px; p++) {
            const v = masks[p * K + k]!;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          const span = hi - lo;
          for (let p = 0; p < px; p++) masks[p * K + k] = span > 0 ? (masks[p * K + k]! - lo) / span : 0;
        }
        const row = i * px * C;
        for (const [s, e] of chunks(K, batchSize)) {
          await run.checkpoint(e - s);
          const batch = new Float32Array((e - s) * px * C);
          for (let k = s; k < e; k++) {
            const o = (k - s) * px * C;
            for (let p = 0; p < px; p++) {
              const m = masks[p * K + k]!;
              for (let c = 0; c < C; c++) batch[o + p * C + c] = bd[row + p * C + c]! + m * (xd[row + p * C + c]! - bd[row + p * C + c]!);
            }
          }
          const scores = await scoreBatch(model, batch, [e - s, H, W, C], new Int32Array(e - s).fill(i), target, fn);
          for (let k = s; k < e; k++) alpha[i * K + k] = scores[k - s]! - fb[i]!;
        }
      }
      const values = tf.tidy(() => {
        const w = tf.reshape(tf.tensor2d(alpha, [n, K]), [n, 1, 1, K]);
        const raw = tf.sum(tf.mul(acts, w), -1, true);
        const cam = (opts.relu ?? scoreCam.defaults.relu) ? tf.relu(raw) : raw;
        return upsample === 'none' ? cam : resizeTo(cam, x.shape, upsample, fn);
      });
      return new LayerAttribution(this.id, this.layer, values, withTargets(run.finish(), targetList(target)));
    } finally {
      acts.dispose();
      base.dispose();
    }
  }
}

/** ScoreCAM's one declaration: catalogue entry, CLI flags and defaults. */
export const scoreCam = defineMethod({
  id: 'score-cam',
  title: 'ScoreCAM',
  family: 'layer',
  requires: 'hooks',
  layer: 'default',
  cost: 'batch × (channels + 2), forward only',
  reference: 'Wang et al. 2020, arXiv:1910.01279',
  stochastic: false,
  output: 'layer',
  options: camOptions(true),
  defaultLayer: lastSpatialLayer,
  create: (m: ModelAdapter, st) => new ScoreCam(hookedModel(m, 'ScoreCAM'), { layer: layerFor(m, st, 'score-cam', lastSpatialLayer) }),
});
