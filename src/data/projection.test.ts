import { describe, expect, it } from 'vitest';
import { Rng } from '../core/random.js';
import { RandomProjection } from './projection.js';

describe('RandomProjection', () => {
  const rng = new Rng(1);
  const x = Float64Array.from({ length: 3 * 600 }, () => rng.normal());

  it('is a function of the seed only: same seed same P, rows projected alone or together agree', () => {
    const a = new RandomProjection(600, 50, 9).project(x, 3);
    const b = new RandomProjection(600, 50, 9);
    const rowWise = [0, 1, 2].flatMap((r) => Array.from(b.project(x.slice(r * 600, (r + 1) * 600), 1)));
    expect(Array.from(a)).toEqual(rowWise);
    expect(Array.from(new RandomProjection(600, 50, 10).project(x, 3))).not.toEqual(Array.from(a));
  });

  it('keeps squared norms in expectation (JL), Rademacher and Gaussian', () => {
    for (const kind of ['rademacher', 'gaussian'] as const) {
      const p = new RandomProjection(600, 400, 2, kind).project(x, 3);
      for (let r = 0; r < 3; r++) {
        let nx = 0;
        let np = 0;
        for (let k = 0; k < 600; k++) nx += x[r * 600 + k]! ** 2;
        for (let k = 0; k < 400; k++) np += p[r * 400 + k]! ** 2;
        expect(Math.abs(np / nx - 1)).toBeLessThan(0.25);
      }
    }
  });

  it('regenerates blocks when P does not fit the cache, with the same values', () => {
    const big = new RandomProjection(5000, 1000, 4); // 5e6 entries > cache
    const y = Float64Array.from({ length: 5000 }, (_, k) => (k % 7) - 3);
    expect(Array.from(big.project(y, 1))).toEqual(Array.from(big.project(y, 1)));
  });
});
