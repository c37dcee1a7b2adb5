// Bad input gives typed errors that name the argument, before any work and without leaking tensors.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from './backend.js';
import { expectNoLeak } from './leak-check.js';
import { linear, smooth } from './reference-models.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { Occlusion } from '../src/attr/perturbation/occlusion.js';
import { FeatureAblation } from '../src/attr/perturbation/feature-ablation.js';
import { ShapleyValues } from '../src/attr/perturbation/shapley.js';
import { FeaturePermutation } from '../src/attr/perturbation/feature-permutation.js';
import { findMethod, METHODS } from '../src/methods.js';
import { fromBatchFunction } from '../src/models/batch-function.js';
import { loadReferenceModel } from './reference.js';
import type { AttributionError } from '../src/core/errors.js';
import { loadModel } from '../src/io/load-model.js';
import { referencePath, removeTempDirs, tempDir } from './reference.js';
import type { CallContext, DifferentiableModel } from '../src/models/model.js';
import { fromFunction } from '../src/models/tfjs/function-model.js';
import { gradOrRelease } from '../src/models/tfjs/tape.js';
import { MAX_GAUSS_LEGENDRE_STEPS, MAX_STEPS } from '../src/core/quadrature.js';
import { MAX_HOST_ELEMENTS } from '../src/core/assert.js';
import { MAX_ROWS_PER_CALL, humanPhase } from '../src/core/budget.js';
import { chunks } from '../src/core/batching.js';
import { Lime } from '../src/attr/perturbation/lime.js';
import { KernelShap } from '../src/attr/perturbation/kernel-shap.js';
import { GradientShap } from '../src/attr/gradient/gradient-shap.js';
import { checkImageSize, decodeImage, imageDimensions } from '../src/io/image.js';
import { parseTensorJson } from '../src/io/tensor-json.js';
import type { Progress } from '../src/core/types.js';

beforeAll(() => useBackend('cpu'));

async function expectCode(p: Promise<unknown>, code: string, details: Record<string, unknown> = {}): Promise<AttributionError> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as AttributionError;
  expect(err, 'expected a rejection').toBeDefined();
  expect(err.name).not.toBe('Error');
  expect(err.code).toBe(code);
  expect(err.details).toMatchObject(details);
  return err;
}

describe('bad input', () => {
  const ig = new IntegratedGradients(smooth());

  it('wrong rank: a single row without the batch dim', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor1d([1, 2, 3, 4]);
      await expectCode(ig.attribute(x, { target: 0 }), 'shape_mismatch', { arg: 'x' });
      x.dispose();
    });
  });

  it('model input shape mismatch is reported by the layers adapter (see models tests) and targets out of range here', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      await expectCode(ig.attribute(x, { target: 7 }), 'invalid_argument', { arg: 'target', value: 7, outputs: 2 });
      await expectCode(ig.attribute(x, { target: [0, 1] }), 'shape_mismatch', { arg: 'target' });
      await expectCode(ig.attribute(x, { target: -1 }), 'invalid_argument', { arg: 'target' });
      await expectCode(ig.attribute(x, {} as never), 'invalid_argument', { arg: 'target' });
      x.dispose();
    });
  });

  it('NaN and Infinity in inputs', async () => {
    await expectNoLeak(async () => {
      for (const bad of [NaN, Infinity]) {
        const x = tf.tensor2d([[1, bad, 3, 4]]);
        await expectCode(ig.attribute(x, { target: 0 }), 'invalid_argument', { arg: 'x', index: 1 });
        x.dispose();
      }
    });
  });

  it('baseline that does not broadcast', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      const b = tf.tensor1d([1, 2, 3]);
      await expectCode(ig.attribute(x, { target: 0, baselines: b }), 'shape_mismatch', { arg: 'baselines' });
      b.dispose();
      x.dispose();
    });
  });

  it('steps < 1, unknown rule, bad batch size, bad budget', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      await expectCode(ig.attribute(x, { target: 0, steps: 0 }), 'invalid_argument', { arg: 'steps' });
      await expectCode(ig.attribute(x, { target: 0, rule: 'simpson' as never }), 'invalid_argument', { arg: 'rule' });
      await expectCode(ig.attribute(x, { target: 0, batchSize: 0 }), 'invalid_argument', { arg: 'batchSize' });
      await expectCode(ig.attribute(x, { target: 0, maxEvaluations: 1.5 }), 'invalid_argument', { arg: 'maxEvaluations' });
      x.dispose();
    });
  });

  it('a budget smaller than the cost throws before any model call', async () => {
    let calls = 0;
    const model = smooth();
    const counting = { ...model, gradients: (x: tf.Tensor, o: never) => (calls++, model.gradients(x, o)), forward: (x: tf.Tensor) => (calls++, model.forward(x)) };
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const err = await expectCode(new IntegratedGradients(counting).attribute(x, { target: 0, steps: 50, maxEvaluations: 10 }), 'budget_exceeded', { needed: 52, maxEvaluations: 10 });
    expect(err.message).toMatch(/maxEvaluations/);
    expect(calls).toBe(0);
    x.dispose();
  });

  it('gradient methods refuse a forward-only model, at construction', () => {
    const blackBox = fromBatchFunction(async (b) => Array.from({ length: b.shape[0]! }, () => [1]));
    expect(() => new Saliency(blackBox as never)).toThrowError(expect.objectContaining({ code: 'capability_missing' }));
    expect(() => findMethod('integrated-gradients').create(blackBox)).toThrowError(expect.objectContaining({ code: 'capability_missing' }));
  });

  it('a TF.js model that takes token ids is refused by gradient methods at construction, with the reason', async () => {
    const text = await loadReferenceModel('text_cnn');
    expect(text.capabilities.gradients).toBe(false);
    expect(() => new Saliency(text)).toThrowError(expect.objectContaining({ code: 'capability_missing', details: expect.objectContaining({ reason: expect.stringMatching(/Embedding layer 'embedding'/) }) }));
    text.dispose();
  });

  it('unknown method', () => {
    expect(() => findMethod('deep-magic')).toThrowError(expect.objectContaining({ code: 'unknown_method' }));
  });

  it('occlusion windows: wrong length, too large', async () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    await expectCode(new Occlusion(smooth()).attribute(x, { target: 0, window: [1, 1] }), 'invalid_argument', { arg: 'window' });
    await expectCode(new Occlusion(smooth()).attribute(x, { target: 0, window: [5] }), 'invalid_argument', { arg: 'window' });
    await expectCode(new Occlusion(smooth()).attribute(x, { target: 0, window: [2], strides: [0] }), 'invalid_argument', { arg: 'strides' });
    x.dispose();
  });

  it('feature masks: wrong shape, too many features for exact Shapley, permutation on one row', async () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    await expectCode(new FeatureAblation(smooth()).attribute(x, { target: 0, featureMask: [0, 1, 2] }), 'shape_mismatch', { arg: 'featureMask' });
    const wide = tf.zeros([1, 24]);
    await expectCode(new ShapleyValues(linear(new Array(24).fill(1))).attribute(wide, { target: 0 }), 'invalid_argument', { arg: 'featureMask', features: 24 });
    await expectCode(new FeaturePermutation(smooth()).attribute(x, { target: 0 }), 'invalid_argument', { arg: 'x' });
    wide.dispose();
    x.dispose();
  });

  it('a target function must return one scalar per row', async () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    await expectCode(new Saliency(smooth()).attribute(x, { target: (o) => o }), 'shape_mismatch', { arg: 'target' });
    x.dispose();
  });
});

describe('no input hangs, exhausts memory or leaks (issue 13, part 3)', () => {
  const throwing = () => {
    throw new TypeError('user code failed');
  };

  it('a target function that throws is invalid_argument with its cause, and leaves numTensors as it was (function, layers and ONNX models)', async () => {
    const layers = await loadReferenceModel('tabular_mlp');
    const onnx = (await loadModel(referencePath('tabular_mlp', 'model.onnx'))) as DifferentiableModel;
    try {
      for (const [model, width] of [[smooth(), 4], [layers, 12], [onnx, 12]] as const) {
        const x = tf.ones([3, width]);
        await expectNoLeak(async () => {
          for (const method of [new Saliency(model), new IntegratedGradients(model)]) {
            const err = await expectCode(method.attribute(x, { target: throwing, steps: 4 } as never), 'invalid_argument', { arg: 'target' });
            expect(err.cause).toBeInstanceOf(TypeError);
            // a failure inside the gradient (wrong objective shape) leaves nothing behind either
            await expectCode(method.attribute(x, { target: (o: tf.Tensor) => o, steps: 4 } as never), 'shape_mismatch', { arg: 'target' });
          }
          // forward-only paths run the target function too
          await expectCode(new FeatureAblation(model).attribute(x, { target: throwing }), 'invalid_argument', { arg: 'target' });
        });
        x.dispose();
      }
    } finally {
      layers.dispose();
      onnx.dispose();
    }
  });

  it('releases what a failed TF.js gradient left on the tape', async () => {
    await expectNoLeak(async () => {
      const x = tf.ones([2, 3]);
      const f = (v: tf.Tensor) => {
        const y = tf.exp(tf.mul(v, 2)); // ops whose gradients save tensors
        if (y.size > 0) throw new RangeError('fails mid-forward');
        return y;
      };
      expect(() => gradOrRelease(f, x)).toThrowError(RangeError);
      x.dispose();
    });
  });

  it('steps above the caps are refused before any node or row is computed', async () => {
    const ig = new IntegratedGradients(smooth());
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const t0 = performance.now();
    await expectCode(ig.attribute(x, { target: 0, steps: 1e9 }), 'invalid_argument', { arg: 'steps', max: MAX_GAUSS_LEGENDRE_STEPS });
    await expectCode(ig.attribute(x, { target: 0, steps: 1e9, maxEvaluations: 1000 }), 'invalid_argument', { arg: 'steps' });
    await expectCode(ig.attribute(x, { target: 0, steps: 1e9, rule: 'riemann-middle' }), 'invalid_argument', { arg: 'steps', max: MAX_STEPS });
    await expectCode(ig.attribute(x, { target: 0, steps: MAX_GAUSS_LEGENDRE_STEPS + 1 }), 'invalid_argument', { arg: 'steps' });
    expect(performance.now() - t0).toBeLessThan(2000);
    x.dispose();
  });

  it('sample counts and planned rows above the caps are refused before allocation', async () => {
    await expectNoLeak(async () => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      const t0 = performance.now();
      await expectCode(new Lime(smooth()).attribute(x, { target: 0, samples: 1e12 }), 'invalid_argument', { arg: 'samples', max: MAX_HOST_ELEMENTS });
      const wide = tf.zeros([4, 4096]);
      await expectCode(new KernelShap(linear(new Array(4096).fill(1))).attribute(wide, { target: 0, samples: 1e6 }), 'invalid_argument', { arg: 'samples' });
      wide.dispose();
      const baselines = tf.zeros([1, 4]);
      await expectCode(new GradientShap(smooth()).attribute(x, { target: 0, samples: 1e9, baselines } as never), 'invalid_argument', { arg: 'work', max: MAX_ROWS_PER_CALL });
      baselines.dispose();
      // with a budget, an anytime method plans only what the budget allows: no 1e12 of anything
      const cut = await new Lime(smooth()).attribute(x, { target: 0, samples: 1e12, maxEvaluations: 100 });
      expect(cut.diagnostics.truncated).toBe(true);
      expect(cut.diagnostics.evaluations).toBeLessThanOrEqual(100);
      cut.dispose();
      expect(performance.now() - t0).toBeLessThan(2000);
      x.dispose();
    });
  });

  it('an abort lands within a fraction of a second even when one batch would take seconds', async () => {
    // ≈ 0.5 ms of work per row: one unpaced call of 4097 rows would block for about 2 s
    const slow = fromBatchFunction(async ({ data, shape }) => {
      const n = shape[0]!;
      const until = performance.now() + 0.5 * n;
      while (performance.now() < until) {
        /* busy: a model that holds the thread */
      }
      const e = data.length / n;
      return Array.from({ length: n }, (_, i) => [data[i * e]!]);
    });
    const x = tf.zeros([1, 4096]);
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 100);
    await expectCode(new FeatureAblation(slow).attribute(x, { target: 0, batchSize: 8192, signal: ac.signal }), 'aborted');
    expect(performance.now() - t0).toBeLessThan(900);
    x.dispose();
  });

  it('progress comes from the first finished call, with human phase names and growing counts', async () => {
    const events: Progress[] = [];
    const x = tf.zeros([1, 600]);
    const counting = fromBatchFunction(async ({ data, shape }) => {
      const until = performance.now() + 0.3 * shape[0]!;
      while (performance.now() < until) {
        /* busy */
      }
      return Array.from({ length: shape[0]! }, (_, i) => [data[i * 600]!]);
    });
    using attr = await new KernelShap(counting).attribute(x, { target: 0, samples: 2000, batchSize: 4096, featureMask: Array.from({ length: 600 }, (_, k) => k % 40), onProgress: (p) => events.push(p) });
    expect(attr.diagnostics.evaluations).toBe(2002);
    expect(events.length).toBeGreaterThan(2);
    expect(events[0]!.done).toBeGreaterThan(0);
    expect(events[0]!.done).toBeLessThan(2002); // not 100 % at the first report
    expect(events.filter((e) => e.phase !== 'kernel SHAP').map((e) => e.phase)).toEqual(['fitting the weighted regression (40 features)']);
    for (let i = 1; i < events.length; i++) expect(events[i]!.done).toBeGreaterThanOrEqual(events[i - 1]!.done);
    expect(events.at(-1)).toEqual({ phase: 'kernel SHAP', done: 2002, total: 2002 });
    x.dispose();
  });

  it('image sizes are read from the header: a 20000×20000 PNG is refused without decoding', () => {
    const ihdr = new Uint8Array(33);
    ihdr.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(ihdr.buffer).setUint32(16, 20000);
    new DataView(ihdr.buffer).setUint32(20, 20000);
    expect(imageDimensions(ihdr)).toEqual({ width: 20000, height: 20000 });
    const t0 = performance.now();
    expect(() => decodeImage(ihdr, { source: 'big' })).toThrowError(expect.objectContaining({ code: 'invalid_file', details: expect.objectContaining({ width: 20000, height: 20000 }) }));
    expect(performance.now() - t0).toBeLessThan(100);
    // a JPEG's SOF0 marker after an APP0 segment
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0x4e, 0x20, 0x75, 0x30, 3, 0, 0, 0]);
    expect(imageDimensions(jpeg)).toEqual({ width: 30000, height: 20000 });
    expect(() => checkImageSize(jpeg)).toThrowError(expect.objectContaining({ code: 'invalid_file' }));
    expect(() => imageDimensions(Uint8Array.from([1, 2, 3]))).toThrowError(expect.objectContaining({ code: 'invalid_file' }));
  });

  it('JSON numbers beyond float64 or float32 are named, not shown as null', () => {
    expect(() => parseTensorJson('[[1e999, 2]]', 'x')).toThrowError(expect.objectContaining({ code: 'invalid_file', details: expect.objectContaining({ index: 0, value: 'Infinity' }) }));
    expect(() => parseTensorJson('[[1, -1e39]]', 'x')).toThrowError(expect.objectContaining({ code: 'invalid_file', details: expect.objectContaining({ index: 1, value: '-1e+39' }) }));
  });
});

describe('paced chunks', () => {
  it('cover 0..total in order, never above the batch size', () => {
    const sizes = [5, 1, 300, 7];
    let k = 0;
    const pacer = { nextChunk: (size: number) => Math.min(size, sizes[k++ % sizes.length]!) };
    const got = [...chunks(1000, 100, pacer)];
    expect(got[0]).toEqual([0, 5]);
    expect(got[2]).toEqual([6, 106]);
    for (let i = 1; i < got.length; i++) expect(got[i]![0]).toBe(got[i - 1]![1]);
    expect(got.at(-1)![1]).toBe(1000);
    expect(Math.max(...got.map(([s, e]) => e - s))).toBeLessThanOrEqual(100);
  });

  it('names phases for people', () => {
    expect(humanPhase('IntegratedGradients.attribute')).toBe('integrated gradients');
    expect(humanPhase('KernelShap.attribute')).toBe('kernel SHAP');
    expect(humanPhase('target')).toBe('finding targets');
  });
});

describe('every method, every failure: numTensors as it was', () => {
  // 8×8 blocks of the image: 16 features keep the surrogate fits of KernelSHAP and LIME small
  const blocks = { ids: Int32Array.from({ length: 32 * 32 * 3 }, (_, i) => Math.floor(i / 3 / 32 / 8) * 4 + Math.floor(((i / 3) | 0) % 32 / 8)), shape: [32, 32, 3] };
  const cases = [
    { model: 'image_cnn', x: () => tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 7), layer: 'conv2', extra: { featureMask: blocks } },
    { model: 'tabular_mlp', x: () => tf.randomUniform([5, 12], -1, 1, 'float32', 7), layer: 'fc1', extra: {} },
  ] as const;

  it.each(cases)('$model (TF.js layers): a target function throwing at the first or a later call, and aborts at the first or third progress event', async ({ model: name, x: makeX, layer, extra }) => {
    const model = await loadReferenceModel(name);
    const x = makeX();
    const checked: string[] = [];
    try {
      for (const d of METHODS) {
        // image-only methods (RISE, extremal perturbation, the CAMs) refuse a table up front; that is tested elsewhere
        if (name === 'tabular_mlp' && (d.id === 'rise' || d.id === 'extremal-perturbation' || /cam/.test(d.id))) continue;
        const method = d.create(model, { ...(d.layer ? { layer } : {}), options: {} });
        const small = { steps: 4, samples: 4, designs: 4, iterations: 2, batchSize: 4, neuron: 0, ...extra };
        const before = tf.memory().numTensors;
        for (const after of [0, 1, 2]) {
          let calls = 0;
          const throwing = (o: tf.Tensor) => {
            if (++calls > after) throw new TypeError('user code failed');
            return tf.reshape(tf.slice(tf.reshape(o, [o.shape[0]!, -1]), [0, 0], [-1, 1]), [-1]);
          };
          const thrown = await method.attribute(x, { ...small, target: throwing } as never).then((r) => (r.dispose(), undefined), (e: unknown) => e as AttributionError);
          // layer-activation, random and neuron methods take no target function into account
          if (after === 0 && !/^(layer-activation|random|neuron-)/.test(d.id)) expect(thrown?.code, d.id).toBe('invalid_argument');
          if (thrown) expect(thrown.code, d.id).toBe('invalid_argument');
        }
        for (const at of [1, 3]) {
          const ac = new AbortController();
          let events = 0;
          const onProgress = () => {
            if (++events >= at) ac.abort();
          };
          const aborted = await method.attribute(x, { ...small, target: 0, signal: ac.signal, onProgress } as never).then((r) => (r.dispose(), undefined), (e: unknown) => e as AttributionError);
          // DeepLiftShap refuses a single baseline up front (it needs a distribution); every other failure is the abort
          if (aborted) expect(aborted.code, d.id).toBe(d.id === 'deeplift-shap' ? 'invalid_argument' : 'aborted');
        }
        expect(tf.memory().numTensors, d.id).toBe(before);
        checked.push(d.id);
      }
    } finally {
      x.dispose();
      model.dispose();
    }
    expect(checked.length).toBeGreaterThan(30);
  });
});

describe('failures found in review', () => {
  beforeAll(() => useBackend('cpu'));
  afterAll(removeTempDirs);

  it("a forward pass that throws while resolving target 'auto' leaves numTensors as it was", async () => {
    const broken = fromFunction(() => {
      throw new Error('model broke');
    });
    const x = tf.ones([2, 3]);
    for (const method of [new Saliency(broken), new IntegratedGradients(broken), new Occlusion(broken), new FeatureAblation(broken)]) {
      const before = tf.memory().numTensors;
      await expect(method.attribute(x, { target: 'auto' })).rejects.toThrow();
      expect(tf.memory().numTensors, method.id).toBe(before);
    }
    x.dispose();
  });

  it("NoiseTunnel resolves target 'auto' with the call's extra inputs bound", async () => {
    // y = [Σ x·mask, −Σ x·mask]: the mask is a second input every call must receive
    const rowsOf = (ctx: CallContext | undefined, n: number) => {
      const mask = ctx?.inputs?.['mask'];
      if (!mask) throw new Error("needs input 'mask'");
      return tf.gather(mask, Array.from(ctx!.rows));
    };
    const f = (x: tf.Tensor, m: tf.Tensor) => {
      const s = tf.sum(tf.mul(x, m), 1, true);
      return tf.concat([s, tf.neg(s)], 1);
    };
    const model: DifferentiableModel = {
      name: 'masked',
      inputShape: [null, 3],
      capabilities: { gradients: true, hooks: false },
      forward: async (x, ctx) => tf.tidy(() => f(x, rowsOf(ctx, x.shape[0]!))),
      gradients: async (x, objective, ctx) => {
        const m = rowsOf(ctx, x.shape[0]!);
        try {
          return tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(objective(f(v, m))))(x));
        } finally {
          m.dispose();
        }
      },
      dispose: () => undefined,
    };
    const x = tf.tensor2d([[1, 2, 3], [-1, -2, -3]]);
    const mask = tf.tensor2d([[1, 1, 1], [1, 0, 1]]);
    const nt = findMethod('noise-tunnel').create(model, { inner: 'saliency' });
    const before = tf.memory().numTensors;
    const r = await nt.attribute(x, { target: 'auto', inputs: { mask }, samples: 2, stdevs: 0, seed: 1 } as never);
    // row 0 picks output 0 (6 > −6), row 1 output 1 (−4 < 4): |gradient| = mask either way
    expect(Array.from(await r.values.data())).toEqual([1, 1, 1, 1, 0, 1]);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, mask]);
  });

  it('a weight path that is not valid URI encoding is invalid_model, not an internal error', async () => {
    const dir = tempDir('attrib-uri-');
    const json = JSON.parse(readFileSync(referencePath('tabular_mlp', 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = ['%E0%A4%A'];
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    await expect(loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' })).rejects.toMatchObject({ code: 'invalid_model' });
  });
});
