import type * as tf from '@tensorflow/tfjs-core';

/**
 * Sparseness (Chalasani et al. 2020): the Gini index of |attribution| per row, in [0, 1]; 1 when one
 * element carries everything, 0 when all carry the same. Higher is better (a sparser explanation).
 * @see Chalasani et al. (2020), https://arxiv.org/abs/1810.06583
 */
export async function sparseness(attribution: tf.Tensor): Promise<Float64Array> {
  return perRow(attribution, (v) => {
    const s = Float64Array.from(v, Math.abs).sort();
    const n = s.length;
    const total = s.reduce((acc, x) => acc + x, 0);
    if (total === 0) return 0;
    let g = 0;
    for (let i = 0; i < n; i++) g += (2 * (i + 1) - n - 1) * s[i]!;
    return g / (n * total);
  });
}

/**
 * Complexity (Bhatt, Weller, Moura 2020): the entropy of the fractional contributions |a_i| / Σ|a|
 * per row (natural log); 0 for one element, ln(n) for uniform. Lower is better.
 * @see Bhatt, Weller, Moura (2020), https://arxiv.org/abs/2005.00631
 */
export async function complexity(attribution: tf.Tensor): Promise<Float64Array> {
  return perRow(attribution, (v) => {
    const total = v.reduce((acc, x) => acc + Math.abs(x), 0);
    if (total === 0) return 0;
    let h = 0;
    for (const x of v) {
      const p = Math.abs(x) / total;
      if (p > 0) h -= p * Math.log(p);
    }
    return h;
  });
}

async function perRow(t: tf.Tensor, f: (row: Float32Array) => number): Promise<Float64Array> {
  const d = (await t.data()) as Float32Array;
  const n = t.shape[0] ?? 1;
  const e = d.length / n;
  return Float64Array.from({ length: n }, (_, i) => f(d.subarray(i * e, (i + 1) * e)));
}
