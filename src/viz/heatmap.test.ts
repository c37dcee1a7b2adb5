// Display scales of heatmaps: a map's own robust scale, and one scale shared by several maps.
import { describe, expect, it } from 'vitest';
import { mapScale, normalizeMap } from './heatmap.js';

describe('mapScale and normalizeMap', () => {
  it('takes the percentile of |values| as the scale, robust to one extreme value', () => {
    const map = Float32Array.from({ length: 200 }, (_, i) => (i % 2 ? -1 : 1) * (i / 199));
    map[7] = 1000;
    // sorted |values|: 0 … 6/199, 8/199 … 1, 1000; the 99th percentile is element 197: 198/199
    expect(mapScale(map, 99)).toBeCloseTo(198 / 199, 5);
    expect(mapScale(map, 100)).toBe(1000);
    expect(mapScale(new Float32Array(5))).toBe(1); // all zeros: no division by zero
    expect(mapScale(new Float32Array(0))).toBe(1);
  });

  it('divides by a given scale, so maps on one scale keep their ratio, and clips to [−1, 1]', () => {
    const a = [0.5, -1, 2];
    const b = [0.25, 0.1, -4];
    const shared = Math.max(mapScale(a, 100), mapScale(b, 100));
    expect(Array.from(normalizeMap(a, 100, shared))).toEqual([0.125, -0.25, 0.5]);
    expect(Array.from(normalizeMap(b, 100, shared))).toEqual([0.0625, expect.closeTo(0.025, 6), -1]);
    expect(Array.from(normalizeMap(a, 100))).toEqual([0.25, -0.5, 1]); // its own scale
    expect(Array.from(normalizeMap(a, 100, 0.5))).toEqual([1, -1, 1]);
  });
});
