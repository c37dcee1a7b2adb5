/**
 * Image preprocessing a real model needs: resizing to the model's input size (with a stated policy),
 * pixel normalisation, and channel layout. Pure data in and out (no TF.js, no DOM, no Node APIs).
 *
 * Pixels start as floats in [0, 1], channels last ([H, W, C]), as `decodeImage` gives them.
 */
import { InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';
import type { ImageData01 } from './image.js';

/**
 * How pixels in [0, 1] are mapped to the model's input range: `'[0,1]'` (as decoded, the default),
 * `'[-1,1]'` (2x − 1), `'[0,255]'` (255x), or per-channel `(x − mean[c]) / std[c]` with mean and std
 * given for pixels in [0, 1] (torchvision's convention; one value for every channel, or one per channel).
 */
export type PixelNormalization = '[0,1]' | '[-1,1]' | '[0,255]' | { readonly mean: readonly number[]; readonly std: readonly number[] };

/** Where the channel axis of an image batch is: `[N, H, W, C]` (TF.js, Keras) or `[N, C, H, W]` (PyTorch exports). */
export type ImageLayout = 'nhwc' | 'nchw';

/**
 * How an image of another size is brought to the model's input size:
 * - `'stretch'`: resampled to exactly H×W; the aspect ratio changes when the two differ (the default);
 * - `'fit'`: scaled to fit inside H×W keeping its aspect ratio, centred, the margins padded with black (0 before normalisation);
 * - `'crop'`: scaled to cover H×W keeping its aspect ratio, then the centre H×W cut out (torchvision's Resize + CenterCrop);
 * - `'none'`: never resized; an image of another size is refused with `shape_mismatch`.
 *
 * Resampling is bilinear with half-pixel centres, antialiased when shrinking (the filter widens
 * with the scale, as PIL does), so a 640×400 photo shrunk to 32×32 averages its pixels instead of
 * sampling a few of them.
 */
export type ResizePolicy = 'stretch' | 'fit' | 'crop' | 'none';

export const RESIZE_POLICIES: readonly ResizePolicy[] = ['stretch', 'fit', 'crop', 'none'];
export const IMAGE_LAYOUTS: readonly ImageLayout[] = ['nhwc', 'nchw'];

/** What a resize did: from which size to which, with which policy. */
export interface ResizeInfo {
  readonly from: { readonly width: number; readonly height: number };
  readonly to: { readonly width: number; readonly height: number };
  readonly policy: ResizePolicy;
}

/** Per-channel mean and std of a normalisation (the named ranges are affine maps too). */
function affine(norm: PixelNormalization, channels: number, fn: string): { mean: Float64Array; std: Float64Array } {
  const fill = (m: number, s: number) => ({ mean: new Float64Array(channels).fill(m), std: new Float64Array(channels).fill(s) });
  if (norm === '[0,1]') return fill(0, 1);
  if (norm === '[-1,1]') return fill(0.5, 0.5);
  if (norm === '[0,255]') return fill(0, 1 / 255);
  if (typeof norm !== 'object' || norm === null || !Array.isArray(norm.mean) || !Array.isArray(norm.std)) {
    throw new InvalidArgumentError(`Argument 'normalize' passed to '${fn}' must be '[0,1]', '[-1,1]', '[0,255]' or {mean, std}, got ${JSON.stringify(norm)}`, { arg: 'normalize', fn, value: norm });
  }
  const expand = (v: readonly number[], what: 'mean' | 'std'): Float64Array => {
    if (v.length !== 1 && v.length !== channels) {
      throw new InvalidArgumentError(`Argument 'normalize.${what}' passed to '${fn}' must have ${channels === 1 ? '1 value' : `1 or ${channels} values (one per channel)`}, got ${v.length}`, {
        arg: `normalize.${what}`,
        fn,
        expected: channels,
        actual: v.length,
      });
    }
    for (const x of v) {
      if (!Number.isFinite(x) || (what === 'std' && !(x > 0))) {
        throw new InvalidArgumentError(`Argument 'normalize.${what}' passed to '${fn}' must hold finite numbers${what === 'std' ? ' > 0' : ''}, got ${JSON.stringify(v)}`, { arg: `normalize.${what}`, fn, value: v });
      }
    }
    return Float64Array.from({ length: channels }, (_, c) => v[v.length === 1 ? 0 : c]!);
  };
  return { mean: expand(norm.mean, 'mean'), std: expand(norm.std, 'std') };
}

/**
 * Maps channels-last pixels in [0, 1] to the model's range. `layout` says where the channel axis of
 * `pixels` is (`'nchw'`: [C, H, W]). Returns a new array.
 */
export function normalizePixels(pixels: ArrayLike<number>, channels: number, norm: PixelNormalization, layout: ImageLayout = 'nhwc'): Float32Array {
  const { mean, std } = affine(norm, channels, 'normalizePixels');
  const plane = pixels.length / channels;
  return Float32Array.from(pixels, (v, i) => {
    const c = layout === 'nhwc' ? i % channels : Math.floor(i / plane);
    return (v - mean[c]!) / std[c]!;
  });
}

/** The inverse of `normalizePixels`: model-range values back to pixels in [0, 1] (not clipped). */
export function denormalizePixels(values: ArrayLike<number>, channels: number, norm: PixelNormalization, layout: ImageLayout = 'nhwc'): Float32Array {
  const { mean, std } = affine(norm, channels, 'denormalizePixels');
  const plane = values.length / channels;
  return Float32Array.from(values, (v, i) => {
    const c = layout === 'nhwc' ? i % channels : Math.floor(i / plane);
    return v * std[c]! + mean[c]!;
  });
}

/** [H, W, C] → [C, H, W] (`to: 'nchw'`) or back (`to: 'nhwc'`, from [C, H, W]). Returns a new array. */
export function transposeImage(data: ArrayLike<number>, height: number, width: number, channels: number, to: ImageLayout): Float32Array {
  if (data.length !== height * width * channels) {
    throw new ShapeMismatchError(`Argument 'data' passed to 'transposeImage' must have ${height}×${width}×${channels} values, got ${data.length}`, {
      arg: 'data',
      fn: 'transposeImage',
      expected: [height, width, channels],
      actual: data.length,
    });
  }
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) {
      if (to === 'nchw') out[c * plane + p] = data[p * channels + c]!;
      else out[p * channels + c] = data[c * plane + p]!;
    }
  }
  return out;
}

/**
 * The layout of an image batch shape `[N, a, b, c]`, when it looks like one: channels last when the
 * last dim is 1, 3 or 4; channels first when dim 1 is and the last is not; otherwise undefined.
 */
export function inferLayout(shape: readonly (number | null)[]): ImageLayout | undefined {
  if (shape.length !== 4) return undefined;
  const isC = (d: number | null | undefined) => d === 1 || d === 3 || d === 4;
  if (isC(shape[3])) return 'nhwc';
  if (isC(shape[1])) return 'nchw';
  return undefined;
}

/** The size an image is resampled to before padding or cropping, for each policy. */
export function resizePlan(
  from: { readonly width: number; readonly height: number },
  to: { readonly width: number; readonly height: number },
  policy: ResizePolicy,
): { readonly scaled: { readonly width: number; readonly height: number }; readonly offset: { readonly x: number; readonly y: number } } {
  if (policy === 'stretch') return { scaled: { width: to.width, height: to.height }, offset: { x: 0, y: 0 } };
  if (policy === 'none') return { scaled: { width: from.width, height: from.height }, offset: { x: 0, y: 0 } };
  const s = policy === 'fit' ? Math.min(to.width / from.width, to.height / from.height) : Math.max(to.width / from.width, to.height / from.height);
  const clampTo = (v: number, limit: number) => (policy === 'fit' ? Math.min(limit, Math.max(1, v)) : Math.max(limit, v));
  const width = clampTo(Math.round(from.width * s), to.width);
  const height = clampTo(Math.round(from.height * s), to.height);
  // fit: where the scaled image sits in the padded frame; crop: where the frame sits in the scaled image
  return { scaled: { width, height }, offset: { x: Math.floor(Math.abs(to.width - width) / 2), y: Math.floor(Math.abs(to.height - height) / 2) } };
}

/**
 * Brings an image to `width`×`height` with `policy` (see `ResizePolicy`). Returns the image and,
 * when it was resized, what was done; an image already of that size is returned as it is.
 */
export function resizeImage(img: ImageData01, width: number, height: number, policy: ResizePolicy = 'stretch'): { readonly image: ImageData01; readonly resize?: ResizeInfo } {
  if (!RESIZE_POLICIES.includes(policy)) {
    throw new InvalidArgumentError(`Argument 'resize' passed to 'resizeImage' must be one of ${RESIZE_POLICIES.join(', ')}, got ${JSON.stringify(policy)}`, { arg: 'resize', fn: 'resizeImage', value: policy });
  }
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`Argument '${name}' passed to 'resizeImage' must be a positive integer, got ${v}`, { arg: name, fn: 'resizeImage', value: v });
  }
  if (img.width === width && img.height === height) return { image: img };
  if (policy === 'none') {
    throw new ShapeMismatchError(`Image is ${img.width}×${img.height} but the model takes ${width}×${height}, and the resize policy is 'none' (use stretch, fit or crop)`, {
      arg: 'resize',
      fn: 'resizeImage',
      expected: [height, width],
      actual: [img.height, img.width],
    });
  }
  const c = img.channels;
  const plan = resizePlan(img, { width, height }, policy);
  const scaled = resample(img.data, img.width, img.height, c, plan.scaled.width, plan.scaled.height);
  let data = scaled;
  if (policy !== 'stretch') {
    data = new Float32Array(width * height * c); // fit: black margins
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [sx, sy] = policy === 'fit' ? [x - plan.offset.x, y - plan.offset.y] : [x + plan.offset.x, y + plan.offset.y];
        if (sx < 0 || sy < 0 || sx >= plan.scaled.width || sy >= plan.scaled.height) continue;
        for (let k = 0; k < c; k++) data[(y * width + x) * c + k] = scaled[(sy * plan.scaled.width + sx) * c + k]!;
      }
    }
  }
  return {
    image: { width, height, channels: c, data },
    resize: { from: { width: img.width, height: img.height }, to: { width, height }, policy },
  };
}

/** Separable bilinear resampling, half-pixel centres, with the triangle filter widened by the scale when shrinking. */
function resample(src: Float32Array, w: number, h: number, c: number, W: number, H: number): Float32Array {
  const horizontal = new Float32Array(W * h * c);
  const wx = weights(w, W);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < W; x++) {
      const { start, k } = wx[x]!;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let j = 0; j < k.length; j++) acc += k[j]! * src[(y * w + start + j) * c + ch]!;
        horizontal[(y * W + x) * c + ch] = acc;
      }
    }
  }
  const out = new Float32Array(W * H * c);
  const wy = weights(h, H);
  for (let y = 0; y < H; y++) {
    const { start, k } = wy[y]!;
    for (let x = 0; x < W; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let j = 0; j < k.length; j++) acc += k[j]! * horizontal[((start + j) * W + x) * c + ch]!;
        out[(y * W + x) * c + ch] = acc;
      }
    }
  }
  return out;
}

/** For each output index, the first source index and the normalised triangle weights it reads. */
function weights(n: number, N: number): { start: number; k: Float64Array }[] {
  const scale = n / N;
  const support = Math.max(1, scale); // the triangle's half-width in source pixels
  return Array.from({ length: N }, (_, i) => {
    const centre = (i + 0.5) * scale;
    const start = Math.max(0, Math.floor(centre - support));
    const end = Math.min(n, Math.ceil(centre + support));
    const k = new Float64Array(end - start);
    let sum = 0;
    for (let j = start; j < end; j++) {
      const v = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      k[j - start] = v;
      sum += v;
    }
    if (sum === 0) {
      // the centre falls between pixels at an edge: take the nearest
      const nearest = Math.min(n - 1, Math.max(0, Math.floor(centre)));
      return { start: nearest, k: Float64Array.of(1) };
    }
    for (let j = 0; j < k.length; j++) k[j]! /= sum;
    return { start, k };
  });
}

/** What `preprocessImage` did and needs to undo for display. */
export interface Preprocessing {
  readonly layout: ImageLayout;
  readonly normalize: PixelNormalization;
  /** Present when the image was resized. */
  readonly resize?: ResizeInfo;
}

export interface PreprocessOptions {
  /** The model's input size; the image keeps its size when absent. */
  readonly width?: number;
  readonly height?: number;
  /** Default `'[0,1]'`. */
  readonly normalize?: PixelNormalization;
  /** Default `'nhwc'`. */
  readonly layout?: ImageLayout;
  /** Default `'stretch'`. */
  readonly resize?: ResizePolicy;
}

/**
 * An image ready for a model: resized (see `ResizePolicy`), normalised, in the model's layout, as
 * one batch row `[1, H, W, C]` or `[1, C, H, W]`. Also returns the resized image in [0, 1] (for
 * display) and what was done.
 */
export function preprocessImage(img: ImageData01, opts: PreprocessOptions = {}): { readonly data: Float32Array; readonly shape: readonly [1, number, number, number]; readonly image: ImageData01; readonly preprocessing: Preprocessing } {
  const layout = opts.layout ?? 'nhwc';
  if (!IMAGE_LAYOUTS.includes(layout)) {
    throw new InvalidArgumentError(`Argument 'layout' passed to 'preprocessImage' must be nhwc or nchw, got ${JSON.stringify(layout)}`, { arg: 'layout', fn: 'preprocessImage', value: layout });
  }
  const normalize = opts.normalize ?? '[0,1]';
  const { image, resize } = opts.width !== undefined && opts.height !== undefined ? resizeImage(img, opts.width, opts.height, opts.resize ?? 'stretch') : { image: img, resize: undefined };
  const c = image.channels;
  const ordered = layout === 'nchw' ? transposeImage(image.data, image.height, image.width, c, 'nchw') : image.data;
  const data = normalizePixels(ordered, c, normalize, layout);
  const shape: [1, number, number, number] = layout === 'nchw' ? [1, c, image.height, image.width] : [1, image.height, image.width, c];
  return { data, shape, image, preprocessing: { layout, normalize, ...(resize ? { resize } : {}) } };
}

/**
 * Images to show for a batch of model inputs `[N, H, W, C]` / `[N, C, H, W]` (C = 1 or 3): the
 * normalisation undone when it is given; otherwise values already in [0, 1] are kept, values in
 * [0, 255] divided by 255, and any other range stretched per image from its min to its max.
 * Returns undefined when the batch does not look like images.
 */
export function displayImages(values: ArrayLike<number>, shape: readonly number[], layout: ImageLayout, normalize?: PixelNormalization): { readonly images: ImageData01[]; readonly mapping: 'denormalized' | 'as-is' | 'divided by 255' | 'min-max' } | undefined {
  if (shape.length !== 4) return undefined;
  const [n, a, b, d] = shape as [number, number, number, number];
  const [h, w, c] = layout === 'nhwc' ? [a, b, d] : [b, d, a];
  if ((c !== 1 && c !== 3) || h < 2 || w < 2) return undefined;
  const per = h * w * c;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const mapping = normalize !== undefined ? 'denormalized' : lo >= 0 && hi <= 1 ? 'as-is' : lo >= 0 && hi <= 255 ? 'divided by 255' : 'min-max';
  const images: ImageData01[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.prototype.slice.call(values, i * per, (i + 1) * per) as number[];
    let px = normalize !== undefined ? denormalizePixels(row, c, normalize, layout) : Float32Array.from(row);
    if (layout === 'nchw') px = transposeImage(px, h, w, c, 'nhwc');
    if (mapping === 'divided by 255') px = px.map((v) => v / 255);
    else if (mapping === 'min-max') {
      let rlo = Infinity;
      let rhi = -Infinity;
      for (const v of px) (rlo = Math.min(rlo, v)), (rhi = Math.max(rhi, v));
      const span = rhi > rlo ? rhi - rlo : 1;
      px = px.map((v) => (v - rlo) / span);
    }
    images.push({ width: w, height: h, channels: c as 1 | 3, data: px.map((v) => Math.min(1, Math.max(0, v))) });
  }
  return { images, mapping };
}

/** Text of a normalisation as the CLI takes it: `[0,1]`, or `mean=…;std=…`. */
export function describeNormalization(norm: PixelNormalization): string {
  return typeof norm === 'string' ? norm : `mean=${norm.mean.join(',')} std=${norm.std.join(',')}`;
}
