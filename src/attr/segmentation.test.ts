import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { expectNoLeak } from '../../test/leak-check.js';
import { Rng } from '../core/random.js';
import { fromBatchFunction } from '../models/batch-function.js';
import { FeatureAblation } from './perturbation/feature-ablation.js';
import { blurBaseline, noiseBaseline } from './baselines.js';
import { slic, textSpanMask } from './segmentation.js';

beforeAll(() => useBackend('wasm'));

/** 32×32 RGB: four quadrants of distinct colours with a little noise. */
function quadrants(): Float32Array {
  const rng = new Rng(2);
  const colours = [
    [0.9, 0.1, 0.1],
    [0.1, 0.8, 0.2],
    [0.1, 0.2, 0.9],
    [0.9, 0.9, 0.2],
  ];
  const d = new Float32Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) {
      const q = (y >= 16 ? 2 : 0) + (x >= 16 ? 1 : 0);
      for (let c = 0; c < 3; c++) d[(y * 32 + x) * 3 + c] = colours[q]![c]! + 0.03 * rng.normal();
    }
  return d;
}

/** Each id's pixels form one 4-connected component. */
function connected(ids: Int32Array, h: number, w: number, c: number): boolean {
  const px = (p: number) => ids[p * c]!;
  const seen = new Set<number>();
  const visited = new Uint8Array(h * w);
  for (let s = 0; s < h * w; s++) {
    if (visited[s]) continue;
    if (seen.has(px(s))) return false;
    seen.add(px(s));
    const stack = [s];
    visited[s] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      const [y, x] = [Math.floor(p / w), p % w];
      for (const q of [y > 0 ? p - w : -1, y < h - 1 ? p + w : -1, x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1]) {
        if (q >= 0 && !visited[q] && px(q) === px(p)) (visited[q] = 1), stack.push(q);
      }
    }
  }
  return true;
}

describe('SLIC superpixels', () => {
  it('follows colour edges, yields connected segments with ids 0..K−1, shared by channels', () => {
    const data = quadrants();
    const four = slic({ data, height: 32, width: 32, channels: 3 }, { segments: 4 });
    expect(four.shape).toEqual([32, 32, 3]);
    // every quadrant is one segment
    const idAt = (y: number, x: number) => four.ids[(y * 32 + x) * 3]!;
    for (const [y0, x0] of [
      [0, 0],
      [0, 16],
      [16, 0],
      [16, 16],
    ]) {
      const id = idAt(y0! + 8, x0! + 8);
      let same = 0;
      for (let y = y0!; y < y0! + 16; y++) for (let x = x0!; x < x0! + 16; x++) same += idAt(y, x) === id ? 1 : 0;
      expect(same / 256).toBeGreaterThan(0.95);
    }
    const many = slic({ data, height: 32, width: 32, channels: 3 }, { segments: 16, compactness: 20 });
    const k = new Set(many.ids).size;
    expect(k).toBeGreaterThanOrEqual(8);
    expect(k).toBeLessThanOrEqual(30);
    expect(Math.max(...many.ids)).toBe(k - 1);
    expect(connected(many.ids, 32, 32, 3)).toBe(true);
    for (let p = 0; p < 32 * 32; p++) expect(many.ids[p * 3 + 1]).toBe(many.ids[p * 3]);
    expect(() => slic({ data, height: 32, width: 32, channels: 3 }, { segments: 0 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('feeds a perturbation method: ablating superpixels finds the quadrant a black box reads', async () => {
    const data = quadrants();
    const mask = slic({ data, height: 32, width: 32, channels: 3 }, { segments: 16 });
    const model = fromBatchFunction(async ({ data: d, shape }) => {
      const [n, h, w, c] = shape as [number, number, number, number];
      return Array.from({ length: n }, (_, i) => {
        let s = 0;
        for (let y = 16; y < 32; y++) for (let x = 16; x < 32; x++) s += d[((i * h + y) * w + x) * c + 1]!;
        return [s];
      });
    });
    const x = tf.tensor(data, [1, 32, 32, 3]);
    using attr = await new FeatureAblation(model).attribute(x, { target: 0, featureMask: mask });
    const v = await attr.values.data();
    let on = 0;
    let all = 0;
    for (let y = 0; y < 32; y++)
      for (let xx = 0; xx < 32; xx++) {
        const a = Math.abs(v[(y * 32 + xx) * 3]!);
        all += a;
        if (y >= 16 && xx >= 16) on += a;
      }
    expect(on / all).toBeGreaterThan(0.9);
    x.dispose();
  });
});

describe('text spans', () => {
  it('groups word pieces into words, and words into sentences and paragraphs; padding apart', () => {
    const wp = ['the', 'film', '##s', 'were', 'great', '.', 'it', 'rocks', '!', '·', '·'];
    expect(Array.from(textSpanMask(wp, 'word').ids)).toEqual([0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8]);
    expect(Array.from(textSpanMask(wp, 'sentence').ids)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2]);
    const sp = ['▁The', '▁play', 'wright', '▁wrote', '.', '\n\n', '▁Then', '▁more'];
    expect(Array.from(textSpanMask(sp, 'word').ids)).toEqual([0, 1, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(textSpanMask(sp, 'paragraph').ids)).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
  });
});

describe('image baselines', () => {
  it('blur keeps a constant image and smooths noise; noise is seeded; both leak nothing', async () => {
    const flat = tf.fill([1, 8, 8, 3], 0.4);
    const blurred = blurBaseline(1.5)(flat);
    for (const v of await blurred.data()) expect(v).toBeCloseTo(0.4, 5);
    const noisy = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 4);
    const smooth = blurBaseline(2)(noisy);
    const spread = (t: tf.Tensor) => tf.tidy(() => tf.moments(t).variance.dataSync()[0]!);
    expect(spread(smooth)).toBeLessThan(spread(noisy) / 4);
    const n1 = noiseBaseline({ std: 0.1, mean: 0.5, seed: 3, min: 0, max: 1 })(noisy);
    const n2 = noiseBaseline({ std: 0.1, mean: 0.5, seed: 3, min: 0, max: 1 })(noisy);
    expect(Array.from(await n1.data())).toEqual(Array.from(await n2.data()));
    await expectNoLeak(async () => {
      blurBaseline(1)(noisy).dispose();
      noiseBaseline({ std: 1 })(noisy).dispose();
    });
    expect(() => blurBaseline(0)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    const flatRow = tf.zeros([2, 5]);
    expect(() => blurBaseline(1)(flatRow)).toThrow(expect.objectContaining({ code: 'shape_mismatch' }));
    tf.dispose([flat, blurred, noisy, smooth, n1, n2, flatRow]);
  });
});
