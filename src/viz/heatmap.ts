import { InvalidArgumentError } from '../core/errors.js';
import { colorOf, type ColormapName } from './colormap.js';

/** How the channels of an [H, W, C] attribution become one value per pixel. */
export type ChannelReduction = 'sum' | 'abs-sum' | 'max-abs';

/**
 * One value per pixel from an [H, W, C] attribution (`layout: 'nhwc'`, the default) or a [C, H, W]
 * one (`'nchw'`, models exported from PyTorch).
 */
export function reduceChannels(values: ArrayLike<number>, height: number, width: number, channels: number, how: ChannelReduction = 'sum', layout: 'nhwc' | 'nchw' = 'nhwc'): Float32Array {
  if (values.length !== height * width * channels) {
    throw new InvalidArgumentError(`Attribution has ${values.length} values, expected ${height}×${width}×${channels}`, { arg: 'values' });
  }
  const plane = height * width;
  const out = new Float32Array(plane);
  for (let p = 0; p < plane; p++) {
    let acc = 0;
    for (let c = 0; c < channels; c++) {
      const v = values[layout === 'nhwc' ? p * channels + c : c * plane + p]!;
      if (how === 'sum') acc += v;
      else if (how === 'abs-sum') acc += Math.abs(v);
      else acc = Math.max(acc, Math.abs(v));
    }
    out[p] = acc;
  }
  return out;
}

/**
 * The display scale of a map: the `percentile`-th percentile of |values| (robust to a few extreme
 * pixels), or 1 for an all-zero map.
 */
export function mapScale(map: ArrayLike<number>, percentile = 99.5): number {
  const abs = Float32Array.from(map, Math.abs).sort();
  const k = Math.min(abs.length - 1, Math.max(0, Math.ceil((percentile / 100) * abs.length) - 1));
  return abs[k]! > 0 ? abs[k]! : (abs[abs.length - 1] ?? 0) || 1;
}

/**
 * Scales a map for display: divides by `scale` (default: the map's own `mapScale` at `percentile`;
 * give one scale to several maps to compare them on one colour scale) and clips, giving [−1, 1]
 * (signed) or [0, 1] (non-negative maps).
 */
export function normalizeMap(map: ArrayLike<number>, percentile = 99.5, scale = mapScale(map, percentile)): Float32Array {
  return Float32Array.from(map, (v) => Math.max(-1, Math.min(1, v / scale)));
}

/** RGBA bytes of a normalised map. */
export function heatmapRgba(norm: ArrayLike<number>, colormap: ColormapName): Uint8Array {
  const out = new Uint8Array(norm.length * 4);
  for (let p = 0; p < norm.length; p++) {
    const [r, g, b] = colorOf(colormap, norm[p]!);
    out.set([r, g, b, 255], p * 4);
  }
  return out;
}

/**
 * The heatmap blended over an image (RGB or gray floats in [0, 1], [H, W, C]). The image is shown
 * by its luminance on a light ground (60–100 % white), so it stays bright whatever its colours; each
 * pixel takes the colormap with opacity `alpha · √|value|`, so moderate attributions stay visible.
 */
export function overlayRgba(image: ArrayLike<number>, channels: number, norm: ArrayLike<number>, colormap: ColormapName, alpha = 0.8): Uint8Array {
  const out = new Uint8Array(norm.length * 4);
  for (let p = 0; p < norm.length; p++) {
    let lum = 0;
    if (channels >= 3) lum = 0.299 * image[p * channels]! + 0.587 * image[p * channels + 1]! + 0.114 * image[p * channels + 2]!;
    else lum = image[p * channels]!;
    const base = 255 * (0.6 + 0.4 * Math.min(1, Math.max(0, lum)));
    const [r, g, b] = colorOf(colormap, norm[p]!);
    const a = alpha * Math.sqrt(Math.min(1, Math.abs(norm[p]!) || 0));
    out.set([Math.round(base * (1 - a) + r * a), Math.round(base * (1 - a) + g * a), Math.round(base * (1 - a) + b * a), 255], p * 4);
  }
  return out;
}

/** RGBA of an image in [0, 1] ([H, W, C] with C = 1 or 3). */
export function imageRgba(image: ArrayLike<number>, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) out[p * 4 + c] = Math.round(255 * Math.min(1, Math.max(0, image[p * channels + (channels >= 3 ? c : 0)]!)));
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Nearest-neighbour enlargement of RGBA bytes by an integer factor (small inputs are unreadable at 1:1). */
export function upscaleRgba(rgba: Uint8Array, width: number, height: number, factor: number): Uint8Array {
  if (factor <= 1) return rgba;
  const w2 = width * factor;
  const out = new Uint8Array(w2 * height * factor * 4);
  for (let y = 0; y < height * factor; y++) {
    for (let x = 0; x < w2; x++) {
      const src = (Math.floor(y / factor) * width + Math.floor(x / factor)) * 4;
      out.set(rgba.subarray(src, src + 4), (y * w2 + x) * 4);
    }
  }
  return out;
}

/** Nearest-neighbour resize of a [h, w] map to [height, width] (layer maps shown over their image). */
export function resizeMapNearest(map: ArrayLike<number>, h: number, w: number, height: number, width: number): Float32Array {
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(h - 1, Math.floor((y * h) / height));
    for (let x = 0; x < width; x++) out[y * width + x] = map[sy * w + Math.min(w - 1, Math.floor((x * w) / width))]!;
  }
  return out;
}
