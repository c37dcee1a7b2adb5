import * as tf from '@tensorflow/tfjs-core';

/**
 * Max-pooling whose gradient goes to the FIRST maximal element of each window (row-major order),
 * as PyTorch and TF.js `cpu` do. TF.js `wasm` 4.22 routes ties to the last maximum and loses the
 * gradient of all-zero windows, which makes gradient attributions through MaxPool wrong there;
 * these ops give the same gradient on every backend.
 */
export interface Pool2dSpec {
  readonly poolSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: 'valid' | 'same';
}

/** NHWC max-pool with first-max gradient routing. */
export function maxPool2dFirstMax(x: tf.Tensor4D, spec: Pool2dSpec): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const inp = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const value = tf.maxPool(inp, spec.poolSize as [number, number], spec.strides as [number, number], spec.padding);
    save([inp]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => routeMaxPoolGrad(dy as tf.Tensor4D, saved[0] as tf.Tensor4D, spec),
    };
  });
  return f(x) as tf.Tensor4D;
}

/** Scatters `dy` (one value per window) to the first maximum of each window of `x` (an unpool to the arg-max). */
export function routeMaxPoolGrad(dy: tf.Tensor4D, x: tf.Tensor4D, spec: Pool2dSpec): tf.Tensor4D {
  const [kh, kw] = spec.poolSize;
  const [sh, sw] = spec.strides;
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = dy.shape;
  const tiled = spec.padding === 'valid' && kh === sh && kw === sw;
  if (!tiled) return routeMaxPoolGradLoop(dy, x, spec);
  return tf.tidy(() => {
    // crop to the region the windows cover, split into windows: [n, ho, wo, c, kh*kw]
    const cropped = ho * kh === h && wo * kw === w ? x : tf.slice(x, [0, 0, 0, 0], [n, ho * kh, wo * kw, c]);
    const win = tf.reshape(tf.transpose(tf.reshape(cropped, [n, ho, kh, wo, kw, c]), [0, 1, 3, 5, 2, 4]), [n, ho, wo, c, kh * kw]);
    const first = firstMaxMask(win, 4); // [n, ho, wo, c, kh*kw]
    const routed = tf.mul(first, tf.expandDims(dy, 4));
    const back = tf.reshape(tf.transpose(tf.reshape(routed, [n, ho, wo, c, kh, kw]), [0, 1, 4, 2, 5, 3]), [n, ho * kh, wo * kw, c]);
    if (ho * kh === h && wo * kw === w) return back as tf.Tensor4D;
    return tf.pad(back, [
      [0, 0],
      [0, h - ho * kh],
      [0, w - wo * kw],
      [0, 0],
    ]) as tf.Tensor4D;
  });
}

/** General windows (overlapping or 'same' padding): route on the host, first maximum wins. */
function routeMaxPoolGradLoop(dy: tf.Tensor4D, x: tf.Tensor4D, spec: Pool2dSpec): tf.Tensor4D {
  const [kh, kw] = spec.poolSize;
  const [sh, sw] = spec.strides;
  const [n, h, w, c] = x.shape;
  const [, ho, wo] = dy.shape;
  const padTop = spec.padding === 'same' ? Math.floor(Math.max((ho - 1) * sh + kh - h, 0) / 2) : 0;
  const padLeft = spec.padding === 'same' ? Math.floor(Math.max((wo - 1) * sw + kw - w, 0) / 2) : 0;
  const xs = x.dataSync();
  const gs = dy.dataSync();
  const out = new Float32Array(xs.length);
  for (let b = 0; b < n; b++) {
    for (let oi = 0; oi < ho; oi++) {
      for (let oj = 0; oj < wo; oj++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -1;
          let bestV = -Infinity;
          for (let di = 0; di < kh; di++) {
            const i = oi * sh + di - padTop;
            if (i < 0 || i >= h) continue;
            for (let dj = 0; dj < kw; dj++) {
              const j = oj * sw + dj - padLeft;
              if (j < 0 || j >= w) continue;
              const idx = ((b * h + i) * w + j) * c + ch;
              const v = xs[idx]!;
              if (best < 0 || v > bestV) (best = idx), (bestV = v);
            }
          }
          if (best >= 0) out[best]! += gs[((b * ho + oi) * wo + oj) * c + ch]!;
        }
      }
    }
  }
  return tf.tensor4d(out, [n, h, w, c]);
}

/** NWC 1-D max-pool with first-max routing (as a 2-D pool over [n, L, 1, c]). */
export function maxPool1dFirstMax(x: tf.Tensor3D, poolSize: number, stride: number, padding: 'valid' | 'same'): tf.Tensor3D {
  const [n, l, c] = x.shape;
  const y = maxPool2dFirstMax(tf.reshape(x, [n, l, 1, c]), { poolSize: [poolSize, 1], strides: [stride, 1], padding });
  return tf.squeeze(y, [2]) as tf.Tensor3D;
}

/**
 * Global max over the spatial axes of a channels-last tensor [n, ...spatial, c], with the gradient
 * on the first maximum (`tf.max` gives the full gradient to every tied element instead).
 */
export function globalMaxPoolFirstMax(x: tf.Tensor): tf.Tensor2D {
  const n = x.shape[0]!;
  const c = x.shape[x.rank - 1]!;
  const flat = tf.reshape(x, [n, -1, c]);
  // constant mask of the first maximum along the flattened spatial axis: [n, s, c]
  const mask = tf.transpose(firstMaxMask(tf.transpose(flat, [0, 2, 1]), 2), [0, 2, 1]);
  return tf.sum(tf.mul(flat, mask), 1) as tf.Tensor2D;
}

/**
 * A float 0/1 mask of the first maximum along `axis` (the last axis). Built as an int32 one-hot and
 * cast: `tf.oneHot(…, 'float32')` on wasm 4.22 writes integer bit patterns into a float buffer.
 */
function firstMaxMask(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.cast(tf.oneHot(tf.argMax(x, axis), x.shape[axis]!), 'float32');
}
