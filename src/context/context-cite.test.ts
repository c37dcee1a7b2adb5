import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../test/reference.js';
import { Rng } from '../core/random.js';
import { fitSurrogate, randomMasks } from './context-cite.js';
import { ablationLds } from './evaluate.js';
import { spearman } from '../core/rank.js';
import { logitOfLogProb, resolveResponseSpan } from './scorer.js';

describe('ContextCite numerics', () => {
  it('logitOfLogProb is log(p / (1 − p)), stable at both ends', () => {
    for (const p of [1e-9, 0.01, 0.3, 0.5, 0.9, 0.999]) expect(logitOfLogProb(Math.log(p))).toBeCloseTo(Math.log(p / (1 - p)), 9);
    expect(logitOfLogProb(-800)).toBeCloseTo(-800, 9);
    expect(Number.isFinite(logitOfLogProb(0))).toBe(true);
  });

  it('the surrogate with a tiny α recovers an exact linear target (weights and intercept on the mask scale)', () => {
    const n = 6;
    const masks = randomMasks(n, 64, 0.5, new Rng(7));
    const w = [1.5, -0.5, 0, 2, 0.25, -1];
    const y = new Float64Array(64).map((_, r) => 3 + w.reduce((s, wi, i) => s + wi * masks[r * n + i]!, 0));
    const { scores, intercept } = fitSurrogate(masks, y, n, 1e-9);
    scores.forEach((s, i) => expect(s).toBeCloseTo(w[i]!, 5));
    expect(intercept).toBeCloseTo(3, 5);
  });

  it('matches scikit-learn’s ContextCite surrogate (StandardScaler + Lasso) on the fixture', () => {
    const ref = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'context', 'lasso-contextcite.json'), 'utf8')) as { cases: { n: number; alpha: number; tokens: number; masks: number[]; y: number[]; weight: number[]; bias: number }[] };
    expect(ref.cases).toHaveLength(3);
    for (const c of ref.cases) {
      const { scores, intercept } = fitSurrogate(Uint8Array.from(c.masks), Float64Array.from(c.y), c.n, c.alpha, c.tokens);
      const scale = Math.max(...c.weight.map(Math.abs));
      scores.forEach((s, i) => expect(Math.abs(s - c.weight[i]!)).toBeLessThanOrEqual(1e-5 * scale));
      // the same sources are zeroed by the penalty
      expect(Array.from(scores, (s) => Math.abs(s) < 1e-9)).toEqual(c.weight.map((w) => w === 0));
      expect(intercept).toBeCloseTo(c.bias, 5);
    }
  });

  it('the surrogate satisfies the Lasso optimality (KKT) conditions on the standardised masks', () => {
    const n = 8;
    const k = 48;
    const rng = new Rng(3);
    const masks = randomMasks(n, k, 0.5, rng);
    const y = new Float64Array(k).map((_, r) => masks[r * n]! * 2 + masks[r * n + 3]! * 0.05 + rng.normal() * 0.3);
    const alpha = 0.05;
    const { scores, intercept } = fitSurrogate(masks, y, n, alpha);
    const mean = Array.from({ length: n }, (_, i) => masks.filter((_, j) => j % n === i).reduce((a, b) => a + b, 0) / k);
    const sd = mean.map((m, i) => Math.sqrt(masks.filter((_, j) => j % n === i).reduce((a, b) => a + (b - m) ** 2, 0) / k) || 1);
    const resid = Array.from({ length: k }, (_, r) => y[r]! - intercept - scores.reduce((s, b, i) => s + b * masks[r * n + i]!, 0));
    for (let i = 0; i < n; i++) {
      const g = resid.reduce((s, e, r) => s + e * ((masks[r * n + i]! - mean[i]!) / sd[i]!), 0) / k;
      const coefStd = scores[i]! * sd[i]!;
      if (coefStd !== 0) expect(g).toBeCloseTo(alpha * Math.sign(coefStd), 5);
      else expect(Math.abs(g)).toBeLessThanOrEqual(alpha + 1e-7);
    }
    expect(scores[0]).toBeGreaterThan(1.5);
  });

  it('spearman: 1 for monotone, −1 for reversed, ties averaged, NaN when constant', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 1000])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 1, 2], [1, 1, 2])).toBeCloseTo(1, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  it('LDS of the true weights on an additive game is 1', async () => {
    const w = [3, 1, 0.5, 0.1];
    const game = { n: 4, values: async (m: Uint8Array) => new Float64Array(m.length / 4).map((_, r) => w.reduce((s, wi, i) => s + wi * m[r * 4 + i]!, -10)) };
    expect(await ablationLds(game, w, 32, 1)).toBeCloseTo(1, 12);
  });

  it('resolveResponseSpan: START:END, open ends, substrings, and bad specs', () => {
    expect(resolveResponseSpan('It is 42.', '6:8')).toEqual({ start: 6, end: 8 });
    expect(resolveResponseSpan('It is 42.', ':2')).toEqual({ start: 0, end: 2 });
    expect(resolveResponseSpan('It is 42.', '6:')).toEqual({ start: 6, end: 9 });
    expect(resolveResponseSpan('It is 42.', '42')).toEqual({ start: 6, end: 8 });
    for (const bad of ['5:5', '3:99', '7', '']) expect(() => resolveResponseSpan('It is 42.', bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
