import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertOneOf } from '../../core/assert.js';
import { Budget } from '../../core/budget.js';
import { FeatureAttribution } from '../../core/result.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { LayerGradCam } from '../layer/cam.js';
import type { LayerMethodSettings } from '../layer/internal.js';
import { GuidedBackprop } from './guided-backprop.js';
import { defineMethod } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor, lastSpatialLayer } from '../layer/layer-of.js';

export interface GuidedGradCamOptions extends AttributeOptions {
  /** How the GradCAM map is resized to the input: Captum's default 'nearest', or 'bilinear'. */
  readonly upsample?: 'nearest' | 'bilinear';
}

/**
 * Guided GradCAM (Captum `GuidedGradCam`): guided backpropagation ⊙ ReLU(GradCAM) upsampled to the
 * input (broadcast over channels). Input-shaped; needs a layer with spatial dims.
 *
 * Cost: `3 × batch` rows (GradCAM: activations + gradients; guided backprop).
 * @see Selvaraju et al. (2017), https://arxiv.org/abs/1610.02391
 */
export class GuidedGradCam implements Attributor<GuidedGradCamOptions> {
  readonly id = 'guided-gradcam' as const;
  private readonly cam: LayerGradCam;
  private readonly guided: GuidedBackprop;
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    this.cam = new LayerGradCam(model, settings);
    this.guided = new GuidedBackprop(model);
  }

  get layer(): string {
    return this.cam.layer;
  }

  cost(shape: readonly number[]): number {
    return 3 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: GuidedGradCamOptions): Promise<FeatureAttribution> {
    const fn = 'GuidedGradCam.attribute';
    const upsample = opts?.upsample ?? guidedGradCam.defaults.upsample;
    assertOneOf(upsample, ['nearest', 'bilinear'] as const, 'upsample', fn);
    assertBatch(x, 'x', fn);
    const n = x.shape[0]!;
    Budget.start(opts, { total: this.cost(x.shape) + (opts.target === 'auto' ? n : 0), fn, exact: true });
    const max = opts.maxEvaluations;
    const cam = await this.cam.attribute(x, { ...opts, relu: true, upsample, ...(max === undefined ? {} : { maxEvaluations: max - n }) });
    try {
      const target = cam.diagnostics.targets ?? opts.target;
      const guided = await this.guided.attribute(x, { ...opts, target, ...(max === undefined ? {} : { maxEvaluations: n }) });
      try {
        const values = tf.tidy(() => tf.mul(guided.values, cam.values));
        const d = guided.diagnostics;
        return new FeatureAttribution(this.id, values, { ...d, evaluations: d.evaluations + cam.diagnostics.evaluations, elapsedMs: d.elapsedMs + cam.diagnostics.elapsedMs });
      } finally {
        guided.dispose();
      }
    } finally {
      cam.dispose();
    }
  }
}

/** Guided GradCAM's one declaration: catalogue entry, CLI flags and defaults. */
export const guidedGradCam = defineMethod({
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
  options: { upsample: { type: 'enum', values: ['nearest', 'bilinear'], help: 'resize of the GradCAM map', default: 'nearest' } },
  defaultLayer: lastSpatialLayer,
  create: (m: ModelAdapter, st) => new GuidedGradCam(hookedModel(m, 'GuidedGradCam'), { layer: layerFor(m, st, 'guided-gradcam', lastSpatialLayer) }),
});
