// LiSSA: the inverse Hessian–vector product as a truncated Neumann series of (possibly minibatch)
// Hessian–vector products (Agarwal, Bullins, Hazan 2017; as used by Koh & Liang 2017).
import type { Budget } from '../core/budget.js';
import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import { hessianVectorProduct } from './hessian.js';
import type { Examples, LossName } from './loss.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import { asRows, type TrainingRows, type TrainingSet } from './rows.js';

export interface LissaOptions {
  /** Recursion steps at most. Default 1000. */
  readonly depth?: number;
  /** s, larger than the largest eigenvalue of H + δI. Default: 2 × that eigenvalue by 20 power iterations. */
  readonly scale?: number;
  /** Examples per Hessian–vector product (sampled with `seed`). Default: the whole training set (deterministic). */
  readonly batchSize?: number;
  /** Independent recursions averaged. Default 1. */
  readonly repeats?: number;
  /** Stop once a step changes the estimate by less than this fraction of its norm. Default 1e-7. */
  readonly tolerance?: number;
}

const norm = (v: Float64Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/** Rows `rows` of `source` as a new in-memory set (a minibatch: one row read at a time). */
async function subset(source: TrainingRows, rows: readonly number[]): Promise<Examples> {
  const xs = source.xShape.reduce((a, b) => a * b, 1);
  const ys = source.yShape.reduce((a, b) => a * b, 1);
  const x = new Float64Array(rows.length * xs);
  const y = new Float64Array(rows.length * ys);
  for (const [k, r] of rows.entries()) {
    const b = await source.read(r, r + 1);
    x.set(b.x, k * xs);
    y.set(b.y, k * ys);
  }
  return { x: { shape: [rows.length, ...source.xShape], data: x }, y: { shape: [rows.length, ...source.yShape], data: y } };
}

/**
 * g ↦ (H + δI)⁻¹ g by the recursion h ← g + h − (H_b + δI) h / s from h = g, returning h / s (its fixed
 * point solves (H + δI) h = s g). H_b is the Hessian of J on a minibatch b (the whole set by default).
 * Converges when s exceeds the largest eigenvalue, at rate 1 − λ_min / s per step.
 *
 * Cost: per solve, up to `depth` × `repeats` Hessian–vector products (2 gradient passes over the batch each).
 * @see Agarwal, Bullins, Hazan (2017), https://arxiv.org/abs/1602.03943
 */
export async function lissaSolver(model: OnnxTrainingModel, train: TrainingSet, loss: LossName, l2: number, damping: number, opts: LissaOptions & { readonly seed?: number; readonly budget?: Budget }, fn: string): Promise<(g: Float64Array) => Promise<Float64Array>> {
  const source = asRows(train);
  const n = source.n;
  const depth = opts.depth ?? 1000;
  const repeats = opts.repeats ?? 1;
  const batch = opts.batchSize ?? n;
  for (const [arg, v, max] of [['depth', depth, Infinity], ['repeats', repeats, Infinity], ['batchSize', batch, n]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new InvalidArgumentError(`Argument 'lissa.${arg}' passed to '${fn}' must be an integer in [1, ${max}], got ${v}`, { arg: `lissa.${arg}`, fn });
  }
  const pass = opts.budget ? { budget: opts.budget } : {};
  const full = hessianVectorProduct(model, train, loss, l2, damping, pass);
  let scale = opts.scale;
  if (scale === undefined) {
    const rng = new Rng(opts.seed ?? 0);
    let v: Float64Array = Float64Array.from({ length: model.parameterCount }, () => rng.normal());
    let top = 0;
    for (let it = 0; it < 20; it++) {
      const nv = norm(v); // once: inside the map it made each step p² work
      const hv = await full(v.map((x) => x / nv));
      top = norm(hv);
      v = hv;
    }
    scale = 2 * top;
  }
  if (!(Number.isFinite(scale) && scale > 0)) throw new InvalidArgumentError(`Argument 'lissa.scale' passed to '${fn}' must be a positive number, got ${scale}`, { arg: 'lissa.scale', fn });
  const s = scale;
  const tolerance = opts.tolerance ?? 1e-7;
  const rng = new Rng((opts.seed ?? 0) + 1);
  return async (g) => {
    const total = new Float64Array(g.length);
    for (let r = 0; r < repeats; r++) {
      let h: Float64Array = g.slice();
      for (let t = 0; t < depth; t++) {
        const hvp = batch === n ? full : hessianVectorProduct(model, await subset(source, Array.from({ length: batch }, () => rng.int(n))), loss, l2, damping, pass);
        const hh = await hvp(h);
        const next = h.map((x, k) => g[k]! + x - hh[k]! / s);
        const step = norm(next.map((x, k) => x - h[k]!));
        h = next;
        if (batch === n && step <= tolerance * norm(h)) break;
      }
      for (let k = 0; k < g.length; k++) total[k]! += h[k]! / s / repeats;
    }
    return total;
  };
}
