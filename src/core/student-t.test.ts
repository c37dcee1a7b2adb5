// Student's t quantiles and tails against closed forms and table values.
import { describe, expect, it } from 'vitest';
import { logGamma, regularizedBeta, studentTQuantile, studentTUpperTail } from './student-t.js';

// [p, df, quantile]: scipy.stats.t.ppf (SciPy 1.17.1), the values printed tables round to 3 decimals
const TABLE: readonly (readonly [number, number, number])[] = [
  [0.975, 1, 12.706204736174694],
  [0.975, 2, 4.302652729749462],
  [0.95, 10, 1.8124611228116756],
  [0.995, 30, 2.7499956535672254],
  [0.999, 5, 5.893429531356009],
  [0.975, 1e6, 1.959966356814107],
  [0.99, 3.7, 3.9205078192085483],
  [0.9999, 12.5, 5.183021023760722],
  [1 - 0.05 / 51, 40.3, 3.3122349443143086],
  [0.6, 7, 0.2631668613520229],
  [1 - 1e-9, 4, 234.02761206090787],
];

describe('Student t', () => {
  it('quantiles match table values to 1e-6 (relative), including real df and Bonferroni-small tails', () => {
    for (const [p, df, want] of TABLE) {
      expect(Math.abs(studentTQuantile(p, df) - want) / want, `p=${p} df=${df}`).toBeLessThan(1e-6);
      expect(Math.abs(studentTQuantile(1 - p, df) + want) / want).toBeLessThan(1e-6); // symmetric
    }
    expect(studentTQuantile(0.5, 3)).toBe(0);
  });

  it('quantiles match the closed forms for df = 1 (Cauchy) and df = 2 to 1e-9', () => {
    for (const p of [0.51, 0.75, 0.9, 0.99, 0.9995]) {
      expect(Math.abs(studentTQuantile(p, 1) - Math.tan(Math.PI * (p - 0.5)))).toBeLessThan(1e-9 * Math.max(1, Math.tan(Math.PI * (p - 0.5))));
      const two = (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
      expect(Math.abs(studentTQuantile(p, 2) - two)).toBeLessThan(1e-9 * Math.max(1, two));
    }
  });

  it('the tail inverts the quantile, tends to the normal, and matches scipy.stats.t.sf', () => {
    for (const [p, df] of [[0.9, 3], [0.999, 17.2], [0.6, 100]] as const) expect(Math.abs(studentTUpperTail(studentTQuantile(p, df), df) - (1 - p))).toBeLessThan(1e-12);
    expect(Math.abs(studentTQuantile(0.975, Infinity) - 1.959963984540054)).toBeLessThan(1e-9);
    expect(Math.abs(studentTUpperTail(1.5, 10) - 0.08225366322272007)).toBeLessThan(1e-12);
    expect(Math.abs(studentTUpperTail(1.5, 3.7) - 0.10679908460100675)).toBeLessThan(1e-12);
    expect(Math.abs(studentTUpperTail(-1.5, 2) - (1 - 0.13619656244550055))).toBeLessThan(1e-12);
  });

  it('lnΓ and I_x(a, b) match closed forms', () => {
    expect(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI))).toBeLessThan(1e-13);
    expect(Math.abs(logGamma(10) - Math.log(362880))).toBeLessThan(1e-12);
    // I_x(1, b) = 1 − (1 − x)^b; I_x(a, 1) = x^a
    expect(Math.abs(regularizedBeta(0.3, 1, 2.5) - (1 - 0.7 ** 2.5))).toBeLessThan(1e-14);
    expect(Math.abs(regularizedBeta(0.8, 3.5, 1) - 0.8 ** 3.5)).toBeLessThan(1e-14);
  });

  it('bad input names the argument', () => {
    for (const p of [0, 1, -0.1, NaN]) expect(() => studentTQuantile(p, 3)).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'p' }) }));
    for (const df of [0, -1, NaN]) expect(() => studentTQuantile(0.9, df)).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'df' }) }));
  });
});
