// Student's t distribution: its upper tail and quantile for any real degrees of freedom (Welch–
// Satterthwaite gives non-integer ones), from the regularised incomplete beta function.
import { InvalidArgumentError } from './errors.js';

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x); // reflection
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let s = c[0]!;
  for (let i = 1; i < 9; i++) s += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/**
 * The regularised incomplete beta function I_x(a, b), x in [0, 1], a, b > 0. `xc` = 1 − x, given
 * separately so that a tail near x = 1 keeps its digits. Continued fraction (modified Lentz), on the
 * side of the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where it converges fast.
 */
export function regularizedBeta(x: number, a: number, b: number, xc = 1 - x): number {
  if (x <= 0) return 0;
  if (xc <= 0) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(xc, b, a, x);
  const front = Math.exp(a * Math.log(x) + b * Math.log(xc) + logGamma(a + b) - logGamma(a) - logGamma(b)) / a;
  return front * betaFraction(x, a, b);
}

/** The continued fraction of I_x(a, b) (Numerical Recipes' betacf), to relative 1e-15. */
function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const [qab, qap, qam] = [a + b, a + 1, a - 1];
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) return h;
  }
  return h; // not reached for the arguments the t distribution uses (a ≤ 1e10, b = 1/2)
}

function checkDf(df: number, fn: string): void {
  if (!(df > 0)) throw new InvalidArgumentError(`Argument 'df' passed to '${fn}' must be a positive number (degrees of freedom), got ${df}`, { arg: 'df', fn, value: df });
}

/** P(T > t) for T ~ Student's t with `df` degrees of freedom (df > 0, real; Infinity: the normal). */
export function studentTUpperTail(t: number, df: number): number {
  checkDf(df, 'studentTUpperTail');
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(df) || df > 1e10) return 0.5 * erfc(t / Math.SQRT2);
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2)
  const t2 = t * t;
  const both = t2 === Infinity ? 0 : regularizedBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
  return t >= 0 ? 0.5 * both : 1 - 0.5 * both;
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom (real, > 0): the t with P(T ≤ t) = p.
 * Found by bisection on the upper tail (computed directly, so p close to 1 — a Bonferroni-corrected
 * level — keeps its relative precision), to about 1e-13 relative.
 * @throws {InvalidArgumentError} for p outside (0, 1) or df ≤ 0.
 */
export function studentTQuantile(p: number, df: number): number {
  const fn = 'studentTQuantile';
  if (!(p > 0 && p < 1)) throw new InvalidArgumentError(`Argument 'p' passed to '${fn}' must be a probability in (0, 1), got ${p}`, { arg: 'p', fn, value: p });
  checkDf(df, fn);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  const q = 1 - p; // the upper tail wanted
  let [lo, hi] = [0, 1];
  while (studentTUpperTail(hi, df) > q) [lo, hi] = [hi, hi * 2];
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTUpperTail(mid, df) > q) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** erfc(x), through the regularised upper incomplete gamma function: erfc(x) = Q(1/2, x²) for x ≥ 0. */
function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x === Infinity) return 0;
  return upperGammaHalf(x * x);
}

/** Q(1/2, z) = Γ(1/2, z)/Γ(1/2): series below z = 1.5, continued fraction above (Numerical Recipes gser/gcf). */
function upperGammaHalf(z: number): number {
  const a = 0.5;
  const lnFront = -z + a * Math.log(z) - logGamma(a);
  if (z < a + 1) {
    let [ap, sum, del] = [a, 1 / a, 1 / a];
    for (let n = 1; n < 1000; n++) {
      ap += 1;
      del *= z / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(lnFront);
  }
  const tiny = 1e-300;
  let b = z + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(lnFront) * h;
}
