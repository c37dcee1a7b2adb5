// The cross-method table: every method on closed-form models, checked for shape, memory, seeds,
// abort, budget and its axiom.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from './backend.js';
import { expectNoLeak } from './leak-check.js';
import { additive, additiveTerm, linear, smooth, smoothFn, symmetric } from './reference-models.js';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import type { DifferentiableModel } from '../src/models/model.js';

/** The smooth model over [batch, 2, 2] images (read as its 4 columns). */
const smoothImage = (): DifferentiableModel => fromFunction((v) => smoothFn(tf.reshape(v, [v.shape[0]!, 4])), { outputShape: [null, 2] });
import { findMethod, METHODS } from '../src/methods.js';
import type { AttributeOptions, MethodId } from '../src/core/types.js';
import { isAttributionError } from '../src/core/errors.js';

beforeAll(() => useBackend('cpu'));

/** Per-method options for the shared table (small budgets). */
const OPTIONS: Partial<Record<MethodId, Record<string, unknown>>> = {
  saliency: {},
  'input-x-gradient': {},
  'integrated-gradients': { steps: 16 },
  'noise-tunnel': { samples: 4, stdevs: 0.1 },
  'gradient-shap': { samples: 8 },
  'expected-gradients': { samples: 8 },
  occlusion: { window: [1] },
  'feature-ablation': {},
  'feature-permutation': {},
  'shapley-values': {},
  'shapley-value-sampling': { samples: 4 },
  'kernel-shap': { samples: 30 },
  lime: { samples: 30 },
  rise: { samples: 20, gridSize: 2 },
  sobol: { designs: 8 },
  hsic: { designs: 32 },
  'extremal-perturbation': { areas: [0.25], iterations: 4 },
  lima: {},
  random: {},
};

const X = [
  [0.5, -1.2, 2.0, 0.3],
  [1.5, 0.7, -0.4, -2.2],
  [-0.8, 0.1, 0.9, 1.1],
];

// layer and modified-backprop methods need hookable models: their table is src/attr/layer/layer.test.ts
describe.each(METHODS.filter((m) => m.family === 'gradient' || m.family === 'perturbation').map((m) => m.id))('%s', (id) => {
  const descriptor = findMethod(id);
  // RISE and extremal perturbations take images: the same numbers as [3, 2, 2, 1] images, for a model that reads them as 4 columns
  const image = id === 'rise' || id === 'extremal-perturbation';
  const run = async (opts: Partial<AttributeOptions> & Record<string, unknown> = {}, model = image ? smoothImage() : smooth()) => {
    const x = image ? tf.tensor4d(X.map((r) => [r.slice(0, 2).map((v) => [v]), r.slice(2).map((v) => [v])])) : tf.tensor2d(X);
    try {
      const attr = await descriptor.create(model).attribute(x, { target: 0, ...OPTIONS[id], ...opts } as AttributeOptions);
      if (!image) return attr;
      const flat = tf.reshape(attr.values, [3, 4]);
      attr.values.dispose();
      return Object.assign(attr, { values: flat });
    } finally {
      x.dispose();
    }
  };

  it('returns the input shape and leaks no tensor', async () => {
    await expectNoLeak(async () => {
      const attr = await run();
      expect(attr.values.shape).toEqual([3, 4]);
      expect(attr.kind).toBe('feature');
      expect(attr.method).toBe(id);
      expect(attr.diagnostics.evaluations).toBeGreaterThan(0);
      attr.dispose();
    });
  });

  it('is reproducible for a seed', async () => {
    const a = await run({ seed: 11 });
    const b = await run({ seed: 11 });
    expect(Array.from(await a.values.data())).toEqual(Array.from(await b.values.data()));
    a.dispose();
    b.dispose();
  });

  it('rejects when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(run({ signal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
  });

  it('honours maxEvaluations: throws before work when too small, counts exactly otherwise', async () => {
    await expectNoLeak(async () => {
      const err = await run({ maxEvaluations: 1 }).catch((e: unknown) => e);
      expect(isAttributionError(err) && err.code).toBe('budget_exceeded');
    });
    const attr = await run();
    const cost = attr.diagnostics.evaluations;
    attr.dispose();
    const again = await run({ maxEvaluations: cost });
    expect(again.diagnostics.evaluations).toBeLessThanOrEqual(cost);
    again.dispose();
  });

  it('sampling methods are anytime: a budget below their cost gives fewer samples and truncated: true', async () => {
    const full = await run();
    const cost = full.diagnostics.evaluations;
    full.dispose();
    const anytime = ['noise-tunnel', 'gradient-shap', 'expected-gradients', 'shapley-value-sampling', 'kernel-shap', 'lime', 'rise'].includes(id);
    const budget = Math.floor(cost * 0.6);
    if (anytime) {
      const cut = await run({ maxEvaluations: budget });
      expect(cut.diagnostics.truncated).toBe(true);
      expect(cut.diagnostics.evaluations).toBeLessThanOrEqual(budget);
      expect(cut.values.shape).toEqual([3, 4]);
      cut.dispose();
    } else {
      await expect(run({ maxEvaluations: budget })).rejects.toMatchObject({ code: 'budget_exceeded' });
    }
  });

  it('accepts target auto and per-row targets', async () => {
    const auto = await run({ target: 'auto' });
    expect(auto.diagnostics.targets).toHaveLength(3);
    auto.dispose();
    const rows = await run({ target: [0, 1, 0] });
    expect(rows.diagnostics.targets).toEqual([0, 1, 0]);
    rows.dispose();
  });

  it('reports progress', async () => {
    const seen: number[] = [];
    const attr = await run({ onProgress: (p) => seen.push(p.done) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(attr.diagnostics.evaluations);
    attr.dispose();
  });
});

describe('axioms', () => {
  const a = [0.5, -1, 2, 0.25];
  const b = [1, 0.5, -0.3, 2];
  const x = () => tf.tensor2d(X);

  it.each(['shapley-values', 'kernel-shap', 'feature-ablation', 'occlusion'] as const)('%s on an additive model equals its terms f_i(x_i) − f_i(0)', async (id) => {
    const input = x();
    const attr = await findMethod(id).create(additive(a, b)).attribute(input, { target: 0, ...OPTIONS[id] } as AttributeOptions);
    const got = await attr.values.array();
    X.forEach((row, r) => row.forEach((v, i) => expect((got as number[][])[r]![i]).toBeCloseTo(additiveTerm(a, b, i, v), 4)));
    attr.dispose();
    input.dispose();
  });

  it('Shapley efficiency and symmetry, dummy feature gets zero (exact, KernelSHAP, sampling)', async () => {
    const input = tf.tensor2d([[0.7, 0.7, 5.0]]);
    for (const id of ['shapley-values', 'kernel-shap', 'shapley-value-sampling'] as const) {
      const attr = await findMethod(id).create(symmetric()).attribute(input, { target: 0, samples: 20, seed: 3 } as AttributeOptions);
      const [p0, p1, p2] = Array.from(await attr.values.data());
      const fx = 0.7 * 0.7 + 1.4;
      expect(p0! + p1! + p2!, id).toBeCloseTo(fx, 4);
      // symmetry is exact for enumeration, in expectation for sampled orderings
      if (id === 'shapley-value-sampling') expect(Math.abs(p0! - p1!)).toBeLessThan(0.3);
      else expect(p0, id).toBeCloseTo(p1!, 4);
      expect(p2, id).toBeCloseTo(0, 6);
      attr.dispose();
    }
    input.dispose();
  });

  it('IG equals w ⊙ (x − b) on a linear model, whatever the rule', async () => {
    const w = [2, -1, 0.5, 3];
    for (const rule of ['riemann-left', 'riemann-right', 'riemann-middle', 'trapezoid', 'gauss-legendre'] as const) {
      const input = x();
      const attr = await findMethod('integrated-gradients').create(linear(w)).attribute(input, { target: 0, steps: 4, rule } as AttributeOptions);
      const got = (await attr.values.array()) as number[][];
      X.forEach((row, r) => row.forEach((v, i) => expect(got[r]![i]).toBeCloseTo(w[i]! * v, 5)));
      expect(Math.max(...Array.from(attr.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-5);
      attr.dispose();
      input.dispose();
    }
  });

  it('IG completeness: the gap shrinks as steps grow, fastest with gauss-legendre', async () => {
    const gap = async (rule: string, steps: number) => {
      const input = x();
      const attr = await findMethod('integrated-gradients').create(smooth()).attribute(input, { target: 0, steps, rule } as AttributeOptions);
      const g = Math.max(...Array.from(attr.diagnostics.convergenceDelta!, Math.abs));
      attr.dispose();
      input.dispose();
      return g;
    };
    const left = [await gap('riemann-left', 8), await gap('riemann-left', 64)];
    const trap = [await gap('trapezoid', 8), await gap('trapezoid', 64)];
    const gl = [await gap('gauss-legendre', 8), await gap('gauss-legendre', 64)];
    expect(left[1]).toBeLessThan(left[0]!);
    expect(trap[1]).toBeLessThan(trap[0]!);
    expect(gl[0]).toBeLessThan(trap[0]!);
    expect(gl[0]).toBeLessThan(left[0]!);
    expect(gl[1]).toBeLessThan(1e-4);
  });

  it('Expected Gradients is complete in expectation: gap small relative to F(x) − E F(b)', async () => {
    const input = x();
    const background = tf.randomNormal([16, 4], 0, 1, 'float32', 5);
    const attr = await findMethod('expected-gradients').create(linear([1, 2, 3, 4])).attribute(input, { target: 0, baselines: background, samples: 64, seed: 1 } as AttributeOptions);
    expect(Math.max(...Array.from(attr.diagnostics.convergenceDelta!, Math.abs))).toBeLessThan(1e-4);
    attr.dispose();
    background.dispose();
    input.dispose();
  });
});

describe('random (the control)', () => {
  it('is seeded noise of the input shape, costs nothing and honours abort', async () => {
    const method = findMethod('random').create(smooth());
    const x = tf.tensor2d(X);
    const [a, b] = [await method.attribute(x, { target: 0, seed: 4 }), await method.attribute(x, { target: 0, seed: 4 })];
    expect(a.values.shape).toEqual([3, 4]);
    expect(Array.from(await a.values.data())).toEqual(Array.from(await b.values.data()));
    expect(a.diagnostics.evaluations).toBe(0);
    a.dispose();
    b.dispose();
    const ac = new AbortController();
    ac.abort();
    await expect(method.attribute(x, { target: 0, signal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
    x.dispose();
  });
});
