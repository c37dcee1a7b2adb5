import { describe, expect, it } from 'vitest';
import { isAttributionError } from '../core/errors.js';
import type { ImageData01 } from './image.js';
import { denormalizePixels, displayImages, inferLayout, normalizePixels, preprocessImage, resizeImage, resizePlan, transposeImage, type PixelNormalization } from './preprocess.js';

/** A w×h RGB image whose pixel (x, y) channel c is f(x, y, c). */
function image(width: number, height: number, f: (x: number, y: number, c: number) => number, channels: 1 | 3 = 3): ImageData01 {
  const data = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = f(x, y, c);
  return { width, height, channels, data };
}

const closeAll = (a: ArrayLike<number>, e: ArrayLike<number>, atol = 1e-6) => {
  expect(a.length).toBe(e.length);
  for (let i = 0; i < e.length; i++) expect(Math.abs(a[i]! - e[i]!)).toBeLessThanOrEqual(atol);
};

const codeOf = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return isAttributionError(e) ? { code: e.code, arg: e.details['arg'] } : e;
  }
  return 'no error';
};

describe('normalizePixels / denormalizePixels', () => {
  const px = Float32Array.from([0, 0.25, 0.5, 0.75, 1, 0.1]); // two RGB pixels
  it.each<[PixelNormalization, number[]]>([
    ['[0,1]', [0, 0.25, 0.5, 0.75, 1, 0.1]],
    ['[-1,1]', [-1, -0.5, 0, 0.5, 1, -0.8]],
    ['[0,255]', [0, 63.75, 127.5, 191.25, 255, 25.5]],
    [{ mean: [0.5], std: [0.25] }, [-2, -1, 0, 1, 2, -1.6]],
    [{ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, [-0.485 / 0.229, (0.25 - 0.456) / 0.224, (0.5 - 0.406) / 0.225, (0.75 - 0.485) / 0.229, (1 - 0.456) / 0.224, (0.1 - 0.406) / 0.225]],
  ])('%j maps known pixels and round-trips', (norm, want) => {
    const y = normalizePixels(px, 3, norm);
    closeAll(y, want, 1e-5);
    closeAll(denormalizePixels(y, 3, norm), px, 1e-6);
  });

  it('takes the channel from the plane index in channels-first data', () => {
    // [C=3, H=1, W=2]: plane c holds channel c
    const chw = Float32Array.from([0, 1, 0, 1, 0, 1]);
    closeAll(normalizePixels(chw, 3, { mean: [0, 0.5, 1], std: [1, 0.5, 0.25] }, 'nchw'), [0, 1, -1, 1, -4, 0]);
  });

  it('refuses a mean/std of the wrong length or a std ≤ 0 with invalid_argument', () => {
    expect(codeOf(() => normalizePixels(new Float32Array(6), 3, { mean: [0, 0], std: [1, 1] }))).toEqual({ code: 'invalid_argument', arg: 'normalize.mean' });
    expect(codeOf(() => normalizePixels(new Float32Array(6), 3, { mean: [0], std: [0] }))).toEqual({ code: 'invalid_argument', arg: 'normalize.std' });
    expect(codeOf(() => normalizePixels(new Float32Array(6), 3, '[1,2]' as PixelNormalization))).toEqual({ code: 'invalid_argument', arg: 'normalize' });
  });
});

describe('transposeImage and inferLayout', () => {
  it('moves channels to the front and back', () => {
    const hwc = Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => i); // H=2, W=3, C=3
    const chw = transposeImage(hwc, 2, 3, 3, 'nchw');
    // channel 1 of pixel (y=1, x=2) sits at hwc[(1*3+2)*3+1] and chw[1*6 + 1*3 + 2]
    expect(chw[1 * 6 + 5]).toBe(hwc[5 * 3 + 1]);
    expect(Array.from(chw.slice(0, 6))).toEqual([0, 3, 6, 9, 12, 15]);
    closeAll(transposeImage(chw, 2, 3, 3, 'nhwc'), hwc);
    expect(codeOf(() => transposeImage(hwc, 2, 2, 3, 'nchw'))).toEqual({ code: 'shape_mismatch', arg: 'data' });
  });

  it('reads the layout from an image batch shape', () => {
    expect(inferLayout([null, 224, 224, 3])).toBe('nhwc');
    expect(inferLayout([null, 3, 224, 224])).toBe('nchw');
    expect(inferLayout([1, 1, 28, 28])).toBe('nchw');
    expect(inferLayout([1, 28, 28, 1])).toBe('nhwc');
    expect(inferLayout([null, 12])).toBeUndefined();
    expect(inferLayout([2, 8, 8, 16])).toBeUndefined();
  });
});

describe('resize policies', () => {
  it('plans the scaled size and offset of each policy for 640×400 → 32×32', () => {
    const from = { width: 640, height: 400 };
    const to = { width: 32, height: 32 };
    expect(resizePlan(from, to, 'stretch')).toEqual({ scaled: { width: 32, height: 32 }, offset: { x: 0, y: 0 } });
    expect(resizePlan(from, to, 'fit')).toEqual({ scaled: { width: 32, height: 20 }, offset: { x: 0, y: 6 } });
    expect(resizePlan(from, to, 'crop')).toEqual({ scaled: { width: 51, height: 32 }, offset: { x: 9, y: 0 } });
  });

  it('stretch keeps a constant image constant and averages a checkerboard when shrinking (antialiased)', () => {
    const flat = resizeImage(image(40, 25, () => 0.3), 8, 8, 'stretch');
    expect(flat.resize).toEqual({ from: { width: 40, height: 25 }, to: { width: 8, height: 8 }, policy: 'stretch' });
    closeAll(flat.image.data, new Float32Array(8 * 8 * 3).fill(0.3), 1e-6);
    const checker = resizeImage(image(64, 64, (x, y) => (x + y) % 2), 8, 8, 'stretch').image;
    for (const v of checker.data) expect(Math.abs(v - 0.5)).toBeLessThan(0.02);
  });

  it('stretch to twice the size reproduces a linear ramp between pixel centres', () => {
    const ramp = resizeImage(image(4, 1, (x) => x / 3, 1), 8, 1, 'stretch').image.data;
    // half-pixel centres: output x samples source (x + 0.5) / 2 − 0.5, clamped at the edges
    closeAll(ramp, [0, 1 / 12, 3 / 12, 5 / 12, 7 / 12, 9 / 12, 11 / 12, 1].map((v, i) => (i === 0 ? 0 : i === 7 ? 1 : v)), 1e-6);
  });

  it('fit pads with black bands and keeps the picture; crop keeps the centre', () => {
    // 16×8 white image → 8×8: fit gives a 8×4 white band between two black bands of 2 rows
    const fit = resizeImage(image(16, 8, () => 1, 1), 8, 8, 'fit').image;
    const rows = Array.from({ length: 8 }, (_, y) => fit.data[y * 8 + 3]);
    expect(rows).toEqual([0, 0, 1, 1, 1, 1, 0, 0]);
    // left half 0, right half 1, centre column band 0.5..: crop 16×8 → 8×8 keeps columns 4..11 of the source
    const crop = resizeImage(image(16, 8, (x) => x, 1), 8, 8, 'crop').image;
    expect(Array.from(crop.data.slice(0, 8))).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it("none returns an image of the right size and refuses another with shape_mismatch; same size is untouched", () => {
    const img = image(8, 8, () => 0.5);
    expect(resizeImage(img, 8, 8, 'none')).toEqual({ image: img });
    expect(resizeImage(img, 8, 8, 'stretch').resize).toBeUndefined();
    expect(codeOf(() => resizeImage(img, 4, 4, 'none'))).toEqual({ code: 'shape_mismatch', arg: 'resize' });
    expect(codeOf(() => resizeImage(img, 4, 4, 'squash' as 'none'))).toEqual({ code: 'invalid_argument', arg: 'resize' });
    expect(codeOf(() => resizeImage(img, 0, 4))).toEqual({ code: 'invalid_argument', arg: 'width' });
  });
});

describe('preprocessImage and displayImages', () => {
  it('resizes, normalises and lays out one batch row; displayImages undoes it', () => {
    const img = image(12, 6, (x, y, c) => (x + 2 * y + c) / 30);
    const p = preprocessImage(img, { width: 4, height: 4, normalize: '[-1,1]', layout: 'nchw', resize: 'crop' });
    expect(p.shape).toEqual([1, 3, 4, 4]);
    expect(p.preprocessing).toEqual({ layout: 'nchw', normalize: '[-1,1]', resize: { from: { width: 12, height: 6 }, to: { width: 4, height: 4 }, policy: 'crop' } });
    // the model sees 2p − 1 of the resized picture, channels first
    closeAll(p.data, transposeImage(p.image.data, 4, 4, 3, 'nchw').map((v) => 2 * v - 1), 1e-6);
    const shown = displayImages(p.data, p.shape, 'nchw', '[-1,1]')!;
    expect(shown.mapping).toBe('denormalized');
    closeAll(shown.images[0]!.data, p.image.data, 1e-6);
    expect(preprocessImage(img).shape).toEqual([1, 6, 12, 3]);
  });

  it('maps tensors of unknown normalisation to [0, 1]: as-is, /255, or min–max; non-images give undefined', () => {
    expect(displayImages([0, 0.5, 1, 0.25], [1, 2, 2, 1], 'nhwc')!.mapping).toBe('as-is');
    const by255 = displayImages([0, 51, 255, 102], [1, 2, 2, 1], 'nhwc')!;
    expect(by255.mapping).toBe('divided by 255');
    closeAll(by255.images[0]!.data, [0, 0.2, 1, 0.4]);
    const mm = displayImages([-2, 0, 2, 1], [1, 1, 2, 2], 'nchw')!;
    expect(mm.mapping).toBe('min-max');
    closeAll(mm.images[0]!.data, [0, 0.5, 1, 0.75]);
    expect(displayImages(new Float32Array(2 * 4 * 4 * 5), [2, 4, 4, 5], 'nhwc')).toBeUndefined();
    expect(displayImages(new Float32Array(12), [1, 12], 'nhwc')).toBeUndefined();
  });
});
