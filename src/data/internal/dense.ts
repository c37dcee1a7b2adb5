// Dense float64 linear algebra for the attribution solves (row-major Float64Arrays).
import { InvalidArgumentError } from '../../core/errors.js';

/**
 * The Cholesky factor L (lower, row-major) of a symmetric positive definite A [d×d].
 * @throws {InvalidArgumentError} when A is not positive definite (`what` names the matrix, `hint` says what to do).
 */
export function cholesky(a: Float64Array, d: number, what: string, hint: string): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      const li = i * d;
      const lj = j * d;
      for (let k = 0; k < j; k++) s -= l[li + k]! * l[lj + k]!;
      if (i === j) {
        if (!(s > 0)) throw new InvalidArgumentError(`The ${what} is not positive definite (pivot ${i} is ${s.toExponential(2)}); ${hint}`, { matrix: what, pivot: i, value: s });
        l[li + i] = Math.sqrt(s);
      } else l[li + j] = s / l[lj + j]!;
    }
  }
  return l;
}

/** Solves L z = b in place (forward substitution). */
export function forwardSolve(l: Float64Array, d: number, b: Float64Array): Float64Array {
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    const li = i * d;
    for (let k = 0; k < i; k++) s -= l[li + k]! * b[k]!;
    b[i] = s / l[li + i]!;
  }
  return b;
}

/** Solves Lᵀ x = z in place (back substitution). */
export function backSolve(l: Float64Array, d: number, z: Float64Array): Float64Array {
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * z[k]!;
    z[i] = s / l[i * d + i]!;
  }
  return z;
}

/** A⁻¹ b for A = L Lᵀ (a new array). */
export const cholSolve = (l: Float64Array, d: number, b: Float64Array): Float64Array => backSolve(l, d, forwardSolve(l, d, b.slice()));

export function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ao + k]! * b[bo + k]!;
  return s;
}

/** AᵀA of A [n×d], added into `out` [d×d]. */
export function addGram(a: Float64Array, n: number, d: number, out: Float64Array): void {
  for (let r = 0; r < n; r++) {
    const ro = r * d;
    for (let i = 0; i < d; i++) {
      const v = a[ro + i]!;
      if (v === 0) continue;
      const oi = i * d;
      for (let j = 0; j <= i; j++) out[oi + j]! += v * a[ro + j]!;
    }
  }
}

/** Copies the lower triangle of a [d×d] to its upper triangle. */
export function symmetrizeLower(a: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) a[j * d + i] = a[i * d + j]!;
}

export interface CgResult {
  readonly x: Float64Array;
  readonly iterations: number;
  /** ‖b − A x‖ / ‖b‖ at the end. */
  readonly residual: number;
}

/**
 * Conjugate gradients for A x = b with A symmetric positive definite, given as a (possibly async)
 * matrix–vector product; stops at relative residual `tolerance` or after `maxIterations`.
 */
export async function conjugateGradient(apply: (v: Float64Array) => Promise<Float64Array>, b: Float64Array, maxIterations: number, tolerance: number): Promise<CgResult> {
  const d = b.length;
  const x = new Float64Array(d);
  const r = b.slice();
  const p = b.slice();
  const bNorm = Math.sqrt(dot(b, 0, b, 0, d));
  if (bNorm === 0) return { x, iterations: 0, residual: 0 };
  let rr = dot(r, 0, r, 0, d);
  let it = 0;
  while (it < maxIterations && Math.sqrt(rr) > tolerance * bNorm) {
    const ap = await apply(p);
    const pap = dot(p, 0, ap, 0, d);
    if (!(pap > 0)) throw new InvalidArgumentError(`Conjugate gradients met a direction of non-positive curvature (pᵀHp = ${pap.toExponential(2)}): the Hessian is not positive definite here; add damping or raise l2`, { curvature: pap });
    const alpha = rr / pap;
    for (let k = 0; k < d; k++) (x[k]! += alpha * p[k]!), (r[k]! -= alpha * ap[k]!);
    const next = dot(r, 0, r, 0, d);
    const beta = next / rr;
    rr = next;
    for (let k = 0; k < d; k++) p[k] = r[k]! + beta * p[k]!;
    it++;
  }
  return { x, iterations: it, residual: Math.sqrt(rr) / bNorm };
}

/**
 * Eigen-decomposition of a symmetric A [d×d] by cyclic Jacobi rotations: A = V diag(values) Vᵀ,
 * `vectors` row-major with eigenvector c in column c.
 */
export function symmetricEigen(a: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const m = a.slice();
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < d; i++) {
      diag += m[i * d + i]! ** 2;
      for (let j = i + 1; j < d; j++) off += m[i * d + j]! ** 2;
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (apq === 0) continue;
        const theta = (m[q * d + q]! - m[p * d + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const mkp = m[k * d + p]!;
          const mkq = m[k * d + q]!;
          m[k * d + p] = c * mkp - s * mkq;
          m[k * d + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p * d + k]!;
          const mqk = m[q * d + k]!;
          m[p * d + k] = c * mpk - s * mqk;
          m[q * d + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i]!;
  return { values, vectors: v };
}

/**
 * x ↦ A⁺ x for symmetric positive semi-definite A [d×d] (the pseudo-inverse: eigenvalues at most
 * `rcond` × the largest are treated as zero).
 */
export function pseudoInverseSolver(a: Float64Array, d: number, rcond: number): (b: Float64Array) => Float64Array {
  const { values, vectors } = symmetricEigen(a, d);
  const top = Math.max(0, ...values);
  const inv = values.map((e) => (e > rcond * top ? 1 / e : 0));
  return (b) => {
    const coef = new Float64Array(d);
    for (let c = 0; c < d; c++) {
      let s = 0;
      for (let r = 0; r < d; r++) s += vectors[r * d + c]! * b[r]!;
      coef[c] = s * inv[c]!;
    }
    const out = new Float64Array(d);
    for (let r = 0; r < d; r++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += vectors[r * d + c]! * coef[c]!;
      out[r] = s;
    }
    return out;
  };
}
