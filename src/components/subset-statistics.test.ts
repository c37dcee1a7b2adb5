// Subset sampling on a synthetic ADDITIVE game, I(S) = Σ_{n∈S} c_n + Gaussian noise with known c: the
// estimates converge to c, the Bonferroni bounds cover every |c_n| at the stated confidence, and θ*
// approaches max |c_n| as 1/√N.
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/random.js';
import { SubsetStatistics, thetaStar } from './subset-statistics.js';

const C = [3, -2.5, 1.5, -1, 0.8, 0.5, -0.3, 0.2, 0.1, 0, 0, -0.05, 0.4, -0.7, 2, 0, 0.25, -0.15, 0.05, 0];

/** N subsets of the C.length nodes (each in with probability p), I(S) = Σ c + N(0, noise²). */
function sample(samples: number, p: number, noise: number, seed: number): SubsetStatistics {
  const rng = new Rng(seed);
  const stats = new SubsetStatistics(C.length);
  const m = new Uint8Array(C.length);
  for (let s = 0; s < samples; s++) {
    let value = noise * rng.normal();
    for (let i = 0; i < C.length; i++) {
      m[i] = rng.next() < p ? 1 : 0;
      if (m[i]) value += C[i]!;
    }
    stats.add(m, value);
  }
  return stats;
}

describe('subset sampling statistics on an additive game', () => {
  it('the estimates ī+ − ī− converge to c (error shrinks ~ 1/√N)', () => {
    const err = (n: number) => {
      let total = 0;
      for (let seed = 0; seed < 10; seed++) total += sample(n, 0.3, 0.5, seed).bounds(0.05).reduce((a, b, i) => a + Math.abs(b.estimate - C[i]!), 0) / C.length;
      return total / 10;
    };
    const [e1, e2] = [err(250), err(4000)];
    // SE = σ_I·sqrt(1/(Np) + 1/(N(1−p))), σ_I = sqrt(Σc²·p(1−p) + 0.5²) ≈ 2.31: E|error| ≈ 0.8·SE ≈ 0.064 at N = 4000
    expect(e2).toBeLessThan(0.08);
    expect(e1 / e2).toBeGreaterThan(2.8); // √16 = 4, within sampling noise
    expect(e1 / e2).toBeLessThan(5.5);
  });

  it('the bounds cover every |c_n| at once in ≥ 1 − α − margin of 200 seeded repetitions, and each bound is |estimate| + t·SE', () => {
    const alpha = 0.05;
    let covered = 0;
    for (let seed = 0; seed < 200; seed++) {
      const bounds = sample(300, 0.25, 0.5, 1000 + seed).bounds(alpha);
      if (bounds.every((b, i) => b.upperBound >= Math.abs(C[i]!))) covered++;
      for (const b of bounds) {
        expect(b.included + b.excluded).toBe(300);
        expect(b.upperBound).toBeGreaterThan(Math.abs(b.estimate) + 2 * b.standardError); // t_{1 − 0.05/20} > 2
      }
    }
    // binomial sd at 0.95 over 200 runs is 0.015: 0.95 − 3 sd
    expect(covered / 200).toBeGreaterThanOrEqual(1 - alpha - 0.045);
  });

  it("without the correction, θ* still covers max |c| at 1 − α (intersection–union) while the bounds are tighter", () => {
    const alpha = 0.05;
    let covered = 0;
    let simultaneous = 0;
    for (let seed = 0; seed < 200; seed++) {
      const stats = sample(300, 0.25, 0.5, 3000 + seed);
      const [plain, bonf] = [stats.bounds(alpha, 'none'), stats.bounds(alpha)];
      if (thetaStar(plain) >= 3) covered++;
      if (plain.every((b, i) => b.upperBound >= Math.abs(C[i]!))) simultaneous++;
      plain.forEach((b, i) => expect(b.upperBound).toBeLessThan(bonf[i]!.upperBound));
    }
    expect(covered / 200).toBeGreaterThanOrEqual(1 - alpha - 0.045);
    expect(simultaneous / 200).toBeLessThan(0.9); // measured ≈ 0.7: each bound alone holds, not all at once
  });

  it('θ* − max |c| shrinks roughly as 1/√N', () => {
    const excess = (n: number) => {
      let total = 0;
      for (let seed = 0; seed < 20; seed++) total += thetaStar(sample(n, 0.25, 0.5, 500 + seed).bounds(0.05)) - 3;
      return total / 20;
    };
    const [a, b] = [excess(200), excess(800)];
    expect(b).toBeGreaterThan(0);
    expect(a / b).toBeGreaterThan(1.6); // √4 = 2
    expect(a / b).toBeLessThan(2.6);
  });

  it('a node never (or only once) on one side has no bound: Infinity, and no spread gives the estimate itself', () => {
    const stats = new SubsetStatistics(2);
    for (let s = 0; s < 5; s++) stats.add(Uint8Array.from([1, s % 2]), 2 + (s % 2));
    const [never, half] = stats.bounds(0.05);
    expect(never!.upperBound).toBe(Infinity);
    expect(never!.excluded).toBe(0);
    expect(half!.estimate).toBeCloseTo(1, 12);
    expect(half!.standardError).toBe(0);
    expect(half!.upperBound).toBeCloseTo(1, 12);
    expect(thetaStar([half!])).toBeCloseTo(1, 12);
    expect(() => stats.bounds(1)).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'alpha' }) }));
    expect(() => stats.bounds(0.05, 'holm' as 'none')).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'correction' }) }));
  });
});
