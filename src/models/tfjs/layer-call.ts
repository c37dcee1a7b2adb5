import * as tf from '@tensorflow/tfjs-core';
import type { AffineMap, LayerCall } from '../model.js';
import type { ExecNode, LayerLike } from './executor.js';
import { first, pair } from './layer-config.js';

// What a layer-wise rule (LRP) sees of one layer call: its parameters by role, and the affine map of
// Dense and Conv layers with its transpose (the maths relevance propagation runs on).

type LayerWithParams = LayerLike & Partial<Record<'kernel' | 'bias' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance', { read(): tf.Tensor } | null>>;

/** A layer's parameters by role (variable reads: the model's own tensors). */
export function paramsOf(l: LayerLike): Record<string, tf.Tensor> {
  const layer = l as LayerWithParams;
  const params: Record<string, tf.Tensor> = {};
  for (const role of ['kernel', 'bias', 'gamma', 'beta', 'movingMean', 'movingVariance'] as const) {
    const v = layer[role];
    if (v && typeof v.read === 'function') params[role] = v.read();
  }
  return params;
}

/** A layer call as a `LayerRule` sees it. */
export function layerCall(n: ExecNode, inputs: tf.Tensor[], run: () => tf.Tensor | tf.Tensor[]): LayerCall {
  const layer = n.layer;
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  const params = paramsOf(layer);
  const act = layer.activation;
  const kind = act?.getClassName();
  const affine = affineOf(cls, cfg);
  return {
    name: n.name,
    className: cls,
    config: cfg,
    inputs,
    params,
    ...(affine ? { affine } : {}),
    ...(kind && kind !== 'linear' ? { activation: kind } : {}),
    activate: (z) => (act && kind !== 'linear' ? act.apply(z) : z),
    run,
  };
}

/** The affine map of Dense and Conv layers (channels-last, no dilation) with given parameters, and its transpose. */
export function affineOf(cls: string, cfg: Record<string, unknown>): AffineMap | undefined {
  const channelsLast = cfg['dataFormat'] === undefined || cfg['dataFormat'] === 'channelsLast';
  const addBias = (y: tf.Tensor, b: tf.Tensor | null) => (b ? tf.add(y, b) : y);
  if (cls === 'Dense') {
    const last = (t: tf.Tensor) => (t.rank === 2 ? t : tf.reshape(t, [-1, t.shape[t.rank - 1]!]));
    return {
      apply: (x, k, b) => addBias(tf.reshape(tf.matMul(last(x), k as tf.Tensor2D), [...x.shape.slice(0, -1), k.shape[1]!]), b),
      transpose: (s, k, xShape) => tf.reshape(tf.matMul(last(s), k as tf.Tensor2D, false, true), xShape as number[]),
    };
  }
  if (!channelsLast) return undefined;
  const padding = cfg['padding'] === 'same' ? 'same' : 'valid';
  if (cls === 'Conv2D' && pair(cfg['dilationRate'], 1).every((d) => d === 1)) {
    const strides = pair(cfg['strides'], 1);
    return {
      apply: (x, k, b) => addBias(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, strides, padding), b),
      transpose: (s, k, xShape) => tf.conv2dTranspose(s as tf.Tensor4D, k as tf.Tensor4D, xShape as [number, number, number, number], strides, padding),
    };
  }
  if (cls === 'Conv1D' && cfg['padding'] !== 'causal' && first(cfg['dilationRate'], 1) === 1) {
    const stride = first(cfg['strides'], 1);
    return {
      apply: (x, k, b) => addBias(tf.conv1d(x as tf.Tensor3D, k as tf.Tensor3D, stride, padding), b),
      transpose: (s, k, xShape) => {
        const [n, w, c] = xShape as [number, number, number];
        const t = tf.conv2dTranspose(tf.expandDims(s, 1) as tf.Tensor4D, tf.expandDims(k, 0) as tf.Tensor4D, [n, 1, w, c], [1, stride], padding);
        return tf.reshape(t, [n, w, c]);
      },
    };
  }
  return undefined;
}
