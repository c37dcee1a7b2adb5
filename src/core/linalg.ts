import { BackendError } from './errors.js';

/**
 * Small dense linear algebra in float64 for surrogate fits (KernelSHAP, LIME). Matrices are row-major
 * Float64Arrays.
 */

/** Solves A x = b for symmetric positive (semi-)definite A [d×d] by Cholesky, adding a tiny ridge when needed. */
export function solveSpd(a: Float64Array, b: Float64Array, d: number): Float64Array {
  let jitter = 0;
  const scale = Math.max(1e-300, ...Array.from({ length: d }, (_, i) => Math.abs(a[i * d + i]!)));
  for (let attempt = 0; attempt < 8; attempt++) {
    const l = cholesky(a, d, jitter);
    if (l) {
      const y = new Float64Array(d);
      for (let i = 0; i < d; i++) {
        let s = b[i]!;
        for (let k = 0; k < i; k++) s -= l[i * d + k]! * y[k]!;
        y[i] = s / l[i * d + i]!;
      }
      const x = new Float64Array(d);
      for (let i = d - 1; i >= 0; i--) {
        let s = y[i]!;
        for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * x[k]!;
        x[i] = s / l[i * d + i]!;
      }
      return x;
    }
    jitter = jitter === 0 ? scale * 1e-12 : jitter * 100;
  }
  throw new BackendError('Linear system is singular even after regularisation', { d });
}

function cholesky(a: Float64Array, d: number, jitter: number): Float64Array | undefined {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]! + (i === j ? jitter : 0);
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * d + i] = Math.sqrt(s);
      } else l[i * d + j] = s / l[j * d + j]!;
    }
  }
  return l;
}

/** Weighted means of the columns of X [n×d] and of y. */
function weightedCenter(x: Float64Array, y: Float64Array, w: Float64Array, n: number, d: number) {
  let sw = 0;
  for (let i = 0; i < n; i++) sw += w[i]!;
  const mx = new Float64Array(d);
  let my = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i]! / sw;
    my += wi * y[i]!;
    for (let j = 0; j < d; j++) mx[j]! += wi * x[i * d + j]!;
  }
  return { mx, my, sw };
}

export interface LinearFit {
  readonly coef: Float64Array;
  readonly intercept: number;
}

/** Weighted ridge regression with intercept: min Σ w_i (y_i − b − x_i·β)² + λ‖β‖². */
export function weightedRidge(x: Float64Array, y: Float64Array, w: Float64Array, n: number, d: number, lambda: number): LinearFit {
  const { mx, my } = weightedCenter(x, y, w, n, d);
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const wi = w[i]!;
    const yi = y[i]! - my;
    for (let j = 0; j < d; j++) {
      const xij = x[i * d + j]! - mx[j]!;
      b[j]! += wi * xij * yi;
      for (let k = 0; k <= j; k++) a[j * d + k]! += wi * xij * (x[i * d + k]! - mx[k]!);
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) a[k * d + j] = a[j * d + k]!;
    a[j * d + j]! += lambda;
  }
  const coef = solveSpd(a, b, d);
  let intercept = my;
  for (let j = 0; j < d; j++) intercept -= coef[j]! * mx[j]!;
  return { coef, intercept };
}

/**
 * Weighted Lasso with intercept, sklearn's objective: (1 / (2 Σw)) Σ w_i (y_i − b − x_i·β)² + α‖β‖₁,
 * by cyclic coordinate descent on weighted-centred data, until no coefficient moves by more than
 * `tol` × the largest coefficient in a sweep.
 */
export function weightedLasso(x: Float64Array, y: Float64Array, w: Float64Array, n: number, d: number, alpha: number, maxIter = 10_000, tol = 1e-7): LinearFit {
  const { mx, my, sw } = weightedCenter(x, y, w, n, d);
  const xc = new Float64Array(n * d);
  const r = new Float64Array(n);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    u[i] = w[i]! / sw;
    r[i] = y[i]! - my;
    for (let j = 0; j < d; j++) xc[i * d + j] = x[i * d + j]! - mx[j]!;
  }
  const z = new Float64Array(d);
  for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) z[j]! += u[i]! * xc[i * d + j]! ** 2;
  const coef = new Float64Array(d);
  for (let iter = 0; iter < maxIter; iter++) {
    let maxDelta = 0;
    let maxCoef = 0;
    for (let j = 0; j < d; j++) {
      if (z[j] === 0) continue;
      const old = coef[j]!;
      let rho = 0;
      for (let i = 0; i < n; i++) rho += u[i]! * xc[i * d + j]! * (r[i]! + xc[i * d + j]! * old);
      const next = Math.sign(rho) * Math.max(Math.abs(rho) - alpha, 0) / z[j]!;
      if (next !== old) {
        const delta = next - old;
        for (let i = 0; i < n; i++) r[i]! -= xc[i * d + j]! * delta;
        coef[j] = next;
        maxDelta = Math.max(maxDelta, Math.abs(delta));
      }
      maxCoef = Math.max(maxCoef, Math.abs(coef[j]!));
    }
    if (maxDelta <= tol * Math.max(1, maxCoef)) break;
  }
  let intercept = my;
  for (let j = 0; j < d; j++) intercept -= coef[j]! * mx[j]!;
  return { coef, intercept };
}

/** Pearson correlation of two equal-length series. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i]!), (mb += b[i]!);
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}
