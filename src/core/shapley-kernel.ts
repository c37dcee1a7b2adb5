import { solveSpd } from './linalg.js';
import type { Rng } from './random.js';

// The numerics of KernelSHAP (Lundberg & Lee 2017), on binary coalitions of M players: shared by the
// feature method (attr/perturbation/kernel-shap.ts) and the context method (context/kernel-shap.ts).

/** Coalitions evaluated per row: all 2^M − 2 proper ones when affordable, else `samples`. */
export function coalitionCount(m: number, samples: number): number {
  if (m <= 1) return 0;
  const proper = m >= 31 ? Infinity : 2 ** m - 2;
  return Math.min(proper, samples);
}

/** Binary coalitions (1 = present) and their regression weights. */
export function drawCoalitions(m: number, k: number, rng: Rng): { z: Uint8Array; w: Float64Array } {
  const z = new Uint8Array(k * m);
  const w = new Float64Array(k);
  if (m < 31 && k === 2 ** m - 2) {
    for (let s = 1; s < 2 ** m - 1; s++) {
      let size = 0;
      for (let g = 0; g < m; g++) if (s & (1 << g)) (z[(s - 1) * m + g] = 1), size++;
      w[s - 1] = (m - 1) / (binom(m, size) * size * (m - size));
    }
    return { z, w };
  }
  // p(size) ∝ (M−1)/(size·(M−size)); each drawn coalition then has weight 1 (importance weights cancel)
  const p = new Float64Array(m - 1);
  let total = 0;
  for (let s = 1; s < m; s++) total += p[s - 1] = (m - 1) / (s * (m - s));
  for (let j = 0; j < k; j += 2) {
    let u = rng.next() * total;
    let size = 1;
    while (size < m - 1 && u >= p[size - 1]!) u -= p[size++ - 1]!;
    const perm = rng.permutation(m);
    for (let q = 0; q < size; q++) z[j * m + perm[q]!] = 1;
    w[j] = 1;
    if (j + 1 < k) {
      for (let g = 0; g < m; g++) z[(j + 1) * m + g] = 1 - z[j * m + g]!;
      w[j + 1] = 1;
    }
  }
  return { z, w };
}

function binom(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/**
 * min Σ_i w_i (v_i − f(b) − z_i·φ)² s.t. Σφ = f(x) − f(b): eliminate φ_M = Δ − Σ_{g<M} φ_g and solve
 * the (M−1)-dimensional normal equations.
 */
export function constrainedFit(z: Uint8Array, v: ArrayLike<number>, w: Float64Array, m: number, fx: number, fb: number): Float64Array {
  const delta = fx - fb;
  if (m === 1) return Float64Array.of(delta);
  const d = m - 1;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < w.length; i++) {
    const zl = z[i * m + d]!;
    const y = v[i]! - fb - zl * delta;
    for (let g = 0; g < d; g++) row[g] = z[i * m + g]! - zl;
    const wi = w[i]!;
    for (let g = 0; g < d; g++) {
      b[g]! += wi * row[g]! * y;
      for (let h = 0; h <= g; h++) a[g * d + h]! += wi * row[g]! * row[h]!;
    }
  }
  for (let g = 0; g < d; g++) for (let h = 0; h < g; h++) a[h * d + g] = a[g * d + h]!;
  const sol = solveSpd(a, b, d);
  const phi = new Float64Array(m);
  let rest = delta;
  for (let g = 0; g < d; g++) (phi[g] = sol[g]!), (rest -= sol[g]!);
  phi[d] = rest;
  return phi;
}

