// The finite-difference check of ONNX gradients shared by the backward compiler's tests.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { expect } from 'vitest';
import { fromOnnx } from '../src/models/onnx/node.js';
import { encodeModel } from '../src/models/onnx/grad/compile.js';
import type { ModelProto } from '../src/models/onnx/graph/proto.js';
import type { DifferentiableModel } from '../src/models/model.js';
import type { Objective } from '../src/core/types.js';

/**
 * Σ c ⊙ f(x) with a fixed random cotangent c (drawn by `randn`): its gradient, from the compiled
 * backward graph, must match the model's own finite differences (max error / largest slope < `tol`).
 * `inputs`: the model's other inputs (one row per input row); `load`: options of `fromOnnx`.
 */
export async function checkVjp(randn: (n: number) => number[], model: ModelProto, inputShape: number[], outShape: number[], opts: { x?: number[]; tol?: number; eps?: number; inputs?: Record<string, tf.Tensor>; load?: Parameters<typeof fromOnnx>[1] } = {}): Promise<void> {
  const adapter = (await fromOnnx(encodeModel(model), opts.load ?? {})) as DifferentiableModel;
  const ctx = opts.inputs ? { rows: Array.from({ length: inputShape[0]! }, (_, i) => i), inputs: opts.inputs } : undefined;
  expect(adapter.capabilities.gradients, (adapter as { gradientsUnavailable?: string }).gradientsUnavailable).toBe(true);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const c = tf.tensor(randn(outShape.reduce((a, b) => a * b, 1)), outShape);
  const objective: Objective = (o) => tf.sum(tf.reshape(tf.mul(o, c), [o.shape[0]!, -1]), 1);
  const x0 = opts.x ?? randn(size);
  const x = tf.tensor(x0, inputShape);
  const g = await adapter.gradients(x, objective, ctx);
  const got = Array.from(await g.data());
  // differences of the float32 model: central, and one-sided where a kink of max or relu lies within
  // ε of x (there the central difference averages two slopes; the analytic value must match one side)
  const eps = opts.eps ?? 1e-2;
  const f = async (v: number[]) => {
    const t = tf.tensor(v, inputShape);
    const y = await adapter.forward(t, ctx);
    const s = tf.sum(tf.mul(y, c));
    const r = (await s.data())[0]!;
    tf.dispose([t, y, s]);
    return r;
  };
  const f0 = await f(x0);
  const diffs: number[][] = [];
  for (let k = 0; k < size; k++) {
    const up = [...x0];
    const dn = [...x0];
    up[k]! += eps;
    dn[k]! -= eps;
    const [fu, fd] = [await f(up), await f(dn)];
    diffs.push([(fu - fd) / (2 * eps), (fu - f0) / eps, (f0 - fd) / eps]);
  }
  const scale = Math.max(...diffs.map((d) => Math.abs(d[0]!)), 1e-6);
  const err = Math.max(...got.map((v, k) => Math.min(...diffs[k]!.map((d) => Math.abs(v - d))))) / scale;
  expect(err).toBeLessThan(opts.tol ?? 2e-3);
  tf.dispose([c, x, g]);
  adapter.dispose();
}

/**
 * Runs `before` and `after` (a rewritten copy) on ONNX Runtime with the same float input `x` and
 * expects the same output `y` within `tol`; returns it.
 */
export async function expectSameOrtOutputs(before: ModelProto, after: ModelProto, x: ArrayLike<number>, shape: readonly number[], tol = 1e-6): Promise<Float32Array> {
  const { InferenceSession, Tensor } = await import('onnxruntime-node');
  const feed = new Tensor('float32', Float32Array.from(x), shape);
  const run = async (m: ModelProto) => {
    const s = await InferenceSession.create(encodeModel(m));
    const out = (await s.run({ x: feed }))['y']!;
    await s.release();
    return out;
  };
  const [a, b] = [await run(before), await run(after)];
  expect(b.dims).toEqual(a.dims);
  const [da, db] = [a.data as Float32Array, b.data as Float32Array];
  expect(Math.max(...Array.from(da, (v, i) => Math.abs(v - db[i]!)))).toBeLessThan(tol);
  return da;
}
