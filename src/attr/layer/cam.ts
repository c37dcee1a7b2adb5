import * as tf from '@tensorflow/tfjs-core';
import { assertOneOf } from '../../core/assert.js';
import { CapabilityError } from '../../core/errors.js';
import { LayerAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import type { HookedModel, ModelAdapter } from '../../models/model.js';
import { gradientsInBatches } from '../internal/evaluate.js';
import { prepare } from '../internal/prepare.js';
import { layerActivations, LayerMethod, onLayer, type LayerMethodSettings } from './internal.js';
import { defineMethod, type OptionDecls } from '../../core/method.js';
import { hookedModel } from '../internal/options.js';
import { layerFor, lastSpatialLayer } from './layer-of.js';

export const UPSAMPLE_MODES = ['none', 'nearest', 'bilinear'] as const;
export type UpsampleMode = (typeof UPSAMPLE_MODES)[number];

export interface CamOptions extends AttributeOptions {
  /**
   * ReLU on the map (Captum `relu_attributions`). Default false for GradCAM (Captum's default),
   * true for GradCAM++ and LayerCAM (their papers' definition).
   */
  readonly relu?: boolean;
  /**
   * Resize the map to the input's spatial size (Captum `LayerAttribution.interpolate`): 'nearest'
   * (Captum's default mode), 'bilinear' (half-pixel centres, PyTorch `align_corners=False`), or
   * 'none' (default: the layer's spatial shape).
   */
  readonly upsample?: UpsampleMode;
  /**
   * The layer's channels come first ([batch, channels, ...spatial], e.g. inside a PyTorch ONNX export);
   * the map is still returned channels-last, [batch, ...spatial, 1]. Default false.
   */
  readonly channelsFirst?: boolean;
}

/** Channels-first [b, c, ...s] → channels-last [b, ...s, c]. */
export const toChannelsLast = (t: tf.Tensor): tf.Tensor => tf.transpose(t, [0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]);

/** How a CAM variant turns activations A and gradients G, both [batch, ...spatial, channels], into a map [batch, ...spatial, 1]. */
type CamRule = (a: tf.Tensor, g: tf.Tensor) => tf.Tensor;

const spatialAxes = (rank: number): number[] => Array.from({ length: rank - 2 }, (_, i) => i + 1);

/** GradCAM: channel weights = spatial mean of G; map = Σ_c w_c A_c. */
const gradCamRule: CamRule = (a, g) => tf.sum(tf.mul(tf.mean(g, spatialAxes(g.rank), true), a), -1, true);

/**
 * GradCAM++ (closed form for an exponential output, as its paper and pytorch-grad-cam compute it):
 * α = G² / (2G² + Σ_spatial A · G³), w_c = Σ_spatial α · ReLU(G), map = Σ_c w_c A_c.
 */
const gradCamPlusPlusRule: CamRule = (a, g) => {
  const axes = spatialAxes(g.rank);
  const g2 = tf.square(g);
  const g3 = tf.mul(g2, g);
  const denom = tf.add(tf.add(tf.mul(g2, 2), tf.mul(tf.sum(a, axes, true), g3)), 1e-7);
  const alpha = tf.where(tf.notEqual(g, 0), tf.div(g2, denom), tf.zerosLike(g));
  const w = tf.sum(tf.mul(alpha, tf.relu(g)), axes, true);
  return tf.sum(tf.mul(w, a), -1, true);
};

/** LayerCAM: map = Σ_c ReLU(G_c) ⊙ A_c (elementwise weights). */
const layerCamRule: CamRule = (a, g) => tf.sum(tf.mul(tf.relu(g), a), -1, true);

/** Shared body of the CAM family: activations and gradients at the layer, a rule, ReLU and upsampling. */
abstract class CamBase extends LayerMethod implements Attributor<CamOptions> {
  abstract readonly id: 'layer-gradcam' | 'gradcam-plus-plus' | 'layer-cam';
  protected abstract readonly rule: CamRule;
  /** The method's declared defaults (its descriptor's). */
  protected abstract readonly defaults: { readonly relu: boolean; readonly upsample: UpsampleMode };

  constructor(
    model: HookedModel,
    settings: LayerMethodSettings,
    private readonly method: string,
  ) {
    super(model, settings, method);
    const shape = model.hookShape(this.layer);
    if (shape.length < 3) {
      throw new CapabilityError(
        `'${method}' needs a layer with spatial dims ([batch, ...spatial, channels]); layer '${this.layer}' of model '${model.name}' has shape [${shape.map((d) => d ?? '*').join(', ')}]: pick a convolutional layer`,
        { method, layer: this.layer, shape },
      );
    }
  }

  cost(shape: readonly number[]): number {
    return 2 * (shape[0] ?? 1);
  }

  async attribute(x: tf.Tensor, opts: CamOptions): Promise<LayerAttribution> {
    const fn = `${this.method}.attribute`;
    const upsample = opts?.upsample ?? this.defaults.upsample;
    assertOneOf(upsample, UPSAMPLE_MODES, 'upsample', fn);
    const n = x?.shape?.[0] ?? 0;
    const on = onLayer(this.model, this.layer, x, opts, { fn, cost: this.cost(x.shape), extraRows: n });
    const { acts } = await layerActivations(this.model, this.layer, x, opts, null, fn);
    try {
      const { model, run, target, batchSize } = await prepare(on.view, acts, on.inner, { fn, cost: n, exact: true });
      const g = await gradientsInBatches(model, acts, target, run, batchSize, fn);
      const values = tf.tidy(() => {
        const [a, gg] = opts.channelsFirst ? [toChannelsLast(acts), toChannelsLast(g)] : [acts, g];
        let cam = this.rule(a, gg);
        if (opts.relu ?? this.defaults.relu) cam = tf.relu(cam);
        return upsample === 'none' ? cam : resizeTo(cam, x.shape, upsample, fn);
      });
      g.dispose();
      const d = run.finish();
      return new LayerAttribution(this.id, this.layer, values, withTargets({ ...d, evaluations: d.evaluations + n }, targetList(target)));
    } finally {
      acts.dispose();
    }
  }
}

/** Resizes a [batch, h, w, 1] map to the input's [H, W] (channels-last images). */
export function resizeTo(cam: tf.Tensor, inputShape: readonly number[], mode: 'nearest' | 'bilinear', fn: string): tf.Tensor {
  if (cam.rank !== 4 || inputShape.length !== 4) {
    throw new CapabilityError(`Option 'upsample' of '${fn}' resizes 2-D maps of image inputs [batch, H, W, C]; this map is [${cam.shape.join(', ')}] for an input [${inputShape.join(', ')}]`, {
      fn,
      arg: 'upsample',
    });
  }
  const size: [number, number] = [inputShape[1]!, inputShape[2]!];
  return mode === 'nearest' ? tf.image.resizeNearestNeighbor(cam as tf.Tensor4D, size, false, false) : tf.image.resizeBilinear(cam as tf.Tensor4D, size, false, true);
}

/**
 * GradCAM (Captum `LayerGradCam`): map = Σ_c mean_spatial(∂F_t/∂A_c) · A_c over the channels of
 * a convolutional layer's output A (channels-last), shape [batch, ...spatial, 1]; optional ReLU and
 * upsampling to the input.
 *
 * Cost: `2 × batch` rows (activations, then forward+backward from the layer).
 * @see Selvaraju et al. (2017), https://arxiv.org/abs/1610.02391
 * @throws {CapabilityError} when the layer has no spatial dims.
 * @example
 * ```ts
 * using cam = await new LayerGradCam(model, { layer: 'conv2' }).attribute(images, { target: 'auto', relu: true, upsample: 'bilinear' });
 * ```
 */
export class LayerGradCam extends CamBase {
  readonly id = 'layer-gradcam' as const;
  protected readonly rule = gradCamRule;
  protected get defaults() {
    return layerGradCam.defaults;
  }
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerGradCam');
  }
}

/**
 * GradCAM++: pixel-weighted gradients, α = G² / (2G² + Σ A·G³), w_c = Σ α·ReLU(G); ReLU on by default.
 * @see Chattopadhyay et al. (2018), https://arxiv.org/abs/1710.11063
 */
export class GradCamPlusPlus extends CamBase {
  readonly id = 'gradcam-plus-plus' as const;
  protected readonly rule = gradCamPlusPlusRule;
  protected get defaults() {
    return gradCamPlusPlus.defaults;
  }
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'GradCamPlusPlus');
  }
}

/**
 * LayerCAM: map = ReLU(Σ_c ReLU(G_c) ⊙ A_c); usable on shallow layers, where GradCAM blurs.
 * @see Jiang et al. (2021), https://doi.org/10.1109/TIP.2021.3089943
 */
export class LayerCam extends CamBase {
  readonly id = 'layer-cam' as const;
  protected readonly rule = layerCamRule;
  protected get defaults() {
    return layerCam.defaults;
  }
  constructor(model: HookedModel, settings: LayerMethodSettings) {
    super(model, settings, 'LayerCam');
  }
}

/** The options of the CAM family (`relu`'s default differs by method). */
export const camOptions = <const R extends boolean>(relu: R) =>
  ({
    relu: { type: 'bool', help: 'ReLU on the map', default: relu },
    upsample: { type: 'enum', values: UPSAMPLE_MODES, help: 'resize the map to the input', default: 'none' },
    channelsFirst: { type: 'bool', help: 'the layer is [batch, channels, ...] (PyTorch ONNX exports)', default: false },
  }) as const satisfies OptionDecls;

/** GradCAM's one declaration: catalogue entry, CLI flags and defaults. */
export const layerGradCam = defineMethod({
  id: 'layer-gradcam',
  title: 'GradCAM',
  family: 'layer',
  requires: 'hooks',
  layer: 'default',
  cost: 'batch × 2',
  reference: 'Selvaraju et al. 2017, arXiv:1610.02391',
  stochastic: false,
  output: 'layer',
  options: camOptions(false),
  defaultLayer: lastSpatialLayer,
  create: (m: ModelAdapter, st) => new LayerGradCam(hookedModel(m, 'GradCAM'), { layer: layerFor(m, st, 'layer-gradcam', lastSpatialLayer) }),
});

/** GradCAM++'s one declaration: catalogue entry, CLI flags and defaults. */
export const gradCamPlusPlus = defineMethod({
  id: 'gradcam-plus-plus',
  title: 'GradCAM++',
  family: 'layer',
  requires: 'hooks',
  layer: 'default',
  cost: 'batch × 2',
  reference: 'Chattopadhyay et al. 2018, arXiv:1710.11063',
  stochastic: false,
  output: 'layer',
  options: camOptions(true),
  defaultLayer: lastSpatialLayer,
  create: (m: ModelAdapter, st) => new GradCamPlusPlus(hookedModel(m, 'GradCAM++'), { layer: layerFor(m, st, 'gradcam-plus-plus', lastSpatialLayer) }),
});

/** LayerCAM's one declaration: catalogue entry, CLI flags and defaults. */
export const layerCam = defineMethod({
  id: 'layer-cam',
  title: 'LayerCAM',
  family: 'layer',
  requires: 'hooks',
  layer: 'default',
  cost: 'batch × 2',
  reference: 'Jiang et al. 2021, IEEE TIP 30:5875',
  stochastic: false,
  output: 'layer',
  options: camOptions(true),
  defaultLayer: lastSpatialLayer,
  create: (m: ModelAdapter, st) => new LayerCam(hookedModel(m, 'LayerCAM'), { layer: layerFor(m, st, 'layer-cam', lastSpatialLayer) }),
});
