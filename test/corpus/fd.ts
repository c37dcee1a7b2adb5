// Central finite differences of a model's target score at the elements where its gradient is
// largest: the corpus test's check that compiled gradients are the model's own slopes.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter } from '../../src/models/model.js';

/**
 * Relative disagreement |g − fd| / max(|g|, |fd|) between the gradient `grad` (of one row `x`) and
 * central differences with step `eps`, at the `k` elements of largest |g|: its median and max.
 * All 2k perturbed rows go through the model in one call.
 */
export async function fdAgreement(model: ModelAdapter, x: tf.Tensor, grad: tf.Tensor, target: number | ((o: tf.Tensor) => tf.Tensor), inputs: Record<string, tf.Tensor> | undefined, k: number, eps: number): Promise<{ median: number; max: number; elements: number[] }> {
  const g = await grad.data();
  const x0 = await x.data();
  const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, k);
  const n = x0.length;
  const rows = new Float32Array(2 * k * n);
  order.forEach((e, i) => {
    rows.set(x0, 2 * i * n);
    rows.set(x0, (2 * i + 1) * n);
    rows[2 * i * n + e]! += eps;
    rows[(2 * i + 1) * n + e]! -= eps;
  });
  const xs = tf.tensor(rows, [2 * k, ...x.shape.slice(1)]);
  const y = await model.forward(xs, inputs ? { rows: new Array<number>(2 * k).fill(0), inputs } : undefined);
  const s = typeof target === 'number' ? tf.tidy(() => tf.reshape(tf.slice(tf.reshape(y, [2 * k, -1]), [0, target], [-1, 1]), [-1])) : target(y);
  const f = await s.data();
  tf.dispose([xs, y, s]);
  const rel = order.map((e, i) => {
    const fd = (f[2 * i]! - f[2 * i + 1]!) / (2 * eps);
    return Math.abs(g[e]! - fd) / Math.max(Math.abs(g[e]!), Math.abs(fd), 1e-12);
  });
  const sorted = [...rel].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]!, elements: order };
}
