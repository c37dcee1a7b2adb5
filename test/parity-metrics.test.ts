// Parity with Captum 0.8's infidelity and sensitivity_max on the tabular reference model, with the
// perturbations Captum used (test/fixtures/reference/reference/tabular_mlp_metrics.json; README "Metrics").
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from './backend.js';
import { examples, loadReferenceModel, reference, REFERENCE_DIR } from './reference.js';
import type { DifferentiableModel } from '../src/models/model.js';
import { Saliency } from '../src/attr/gradient/saliency.js';
import { IntegratedGradients } from '../src/attr/gradient/integrated-gradients.js';
import { infidelity } from '../src/metrics/infidelity.js';
import { sensitivityMax } from '../src/metrics/sensitivity.js';

interface JsonTensor {
  readonly shape: number[];
  readonly data: number[];
}
interface MetricsReference {
  readonly samples: number;
  readonly infidelity: {
    readonly perturbations: JsonTensor;
    readonly methods: Record<'saliency' | 'integrated_gradients', { attributions: JsonTensor; infidelity: number[]; infidelity_normalized: number[] }>;
  };
  readonly sensitivity_max: {
    readonly perturbed_minus_input: JsonTensor;
    readonly methods: Record<'saliency' | 'integrated_gradients', { sensitivity_max: number[] }>;
  };
}
const ref = JSON.parse(readFileSync(path.join(REFERENCE_DIR, 'reference', 'tabular_mlp_metrics.json'), 'utf8')) as MetricsReference;
const TOL = 1e-4;

/** Sample s of a stored [N, S, F] perturbation as an [N, F] tensor. */
function sampleOf(t: JsonTensor, s: number): tf.Tensor2D {
  const [n, samples, f] = t.shape as [number, number, number];
  const out = new Float32Array(n * f);
  for (let i = 0; i < n; i++) out.set(t.data.slice((i * samples + s) * f, (i * samples + s + 1) * f), i * f);
  return tf.tensor2d(out, [n, f]);
}

/** max |a − e| / max |e|, the reference README's metric. */
function relError(actual: ArrayLike<number>, expected: readonly number[]): number {
  let num = 0;
  let den = 0;
  expected.forEach((e, i) => ((num = Math.max(num, Math.abs(actual[i]! - e))), (den = Math.max(den, Math.abs(e)))));
  return num / (den || 1);
}

describe.each(BACKENDS)('Captum metrics parity on %s', (backend) => {
  let model: DifferentiableModel;
  let x: tf.Tensor;
  const target = reference('tabular_mlp').targets;
  beforeAll(async () => {
    await useBackend(backend);
    model = await loadReferenceModel('tabular_mlp');
    x = examples('tabular_mlp');
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  it.each(['saliency', 'integrated_gradients'] as const)('infidelity of %s, plain and normalised', async (key) => {
    const m = ref.infidelity.methods[key];
    const attribution = tf.tensor(m.attributions.data, m.attributions.shape);
    const perturb = (v: tf.Tensor, s: number) => tf.tidy(() => tf.sub(v, sampleOf(ref.infidelity.perturbations, s)));
    const before = tf.memory().numTensors;
    for (const [normalize, want] of [[false, m.infidelity], [true, m.infidelity_normalized]] as const) {
      const got = await infidelity(model, x, attribution, { target, samples: ref.samples, perturb, normalize });
      const err = relError(got, want);
      console.log(`${backend} infidelity ${key} normalize=${normalize}: rel error ${err.toExponential(2)}`);
      expect(err, `${key} normalize=${normalize}`).toBeLessThan(TOL);
    }
    expect(tf.memory().numTensors).toBe(before);
    attribution.dispose();
  });

  it.each(['saliency', 'integrated_gradients'] as const)('sensitivity-max of %s', async (key) => {
    const method = key === 'saliency' ? new Saliency(model) : new IntegratedGradients(model);
    const settings = key === 'saliency' ? { abs: false } : { steps: 50, rule: 'gauss-legendre' as const };
    const perturb = (v: tf.Tensor, s: number) => tf.tidy(() => tf.add(v, sampleOf(ref.sensitivity_max.perturbed_minus_input, s)));
    const before = tf.memory().numTensors;
    const got = await sensitivityMax(method, x, { target, ...settings, perturbations: ref.samples, perturb });
    expect(tf.memory().numTensors).toBe(before);
    const want = ref.sensitivity_max.methods[key].sensitivity_max;
    console.log(`${backend} sensitivity-max ${key}: max abs error ${Math.max(...want.map((w, i) => Math.abs(w - got[i]!))).toExponential(2)} (max value ${Math.max(...want).toFixed(4)})`);
    // Saliency's Captum values are 0 on 6 of 8 rows (no ReLU changes state within the radius): compare absolutely
    got.forEach((v, i) => expect(Math.abs(v - want[i]!), `${key} row ${i}`).toBeLessThanOrEqual(TOL * Math.max(...want.map(Math.abs)) + 1e-6));
  });
});
