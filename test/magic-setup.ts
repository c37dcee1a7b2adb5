// Issue 16's MAGIC acceptance setup: an MLP (13 → H tanh → 3) on the wine training set, trained by
// attrib's own deterministic trainer (seeded fixed θ_0, full-batch gradient descent, fixed steps), and
// the LDS ground truth retrained by the same trainer on random α-subsets. Used by src/data/magic-lds.test.ts
// (CI-sized) and scripts/magic-acceptance.ts (the bigger run behind the figures in docs/data-attribution.md).
import type { Examples } from '../src/data/loss.js';
import { linearDatamodelingScore } from '../src/data/evaluation.js';
import { gradientMatrix } from '../src/data/gradients.js';
import { InfluenceFunctions } from '../src/data/influence.js';
import { Magic, trainFullBatch } from '../src/data/magic.js';
import { retrainedLds, trainerRetrain } from '../src/data/retraining.js';
import { OnnxTrainingModel } from '../src/data/onnx/training-model.js';
import { Trak } from '../src/data/trak.js';
import { GradientSimilarity } from '../src/data/grad-similarity.js';
import { Rng } from '../src/core/random.js';
import { floatTensor, intAttr, makeModel, node } from '../src/models/onnx/graph/build.js';
import type { ModelProto } from '../src/models/onnx/graph/proto.js';
import { wine } from './data-reference.js';

const [D, C] = [13, 3];

/** The MLP Gemm(13 → h) · Tanh · Gemm(h → 3) with parameters θ laid out as attrib lays them (W1, b1, W2, b2; W as [out, in]). */
export function wineMlp(theta: Float64Array, hidden: number): ModelProto {
  const sizes = [hidden * D, hidden, C * hidden, C];
  const at = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const part = (i: number) => theta.subarray(at[i]!, at[i]! + sizes[i]!);
  return makeModel({
    nodes: [node('Gemm', ['input', 'w1', 'b1'], ['h'], [intAttr('transB', 1)]), node('Tanh', ['h'], ['a']), node('Gemm', ['a', 'w2', 'b2'], ['logits'], [intAttr('transB', 1)])],
    inputs: [{ name: 'input', shape: ['n', D] }],
    outputs: [{ name: 'logits', shape: ['n', C] }],
    initializers: [floatTensor('w1', [hidden, D], part(0)), floatTensor('b1', [hidden], part(1)), floatTensor('w2', [C, hidden], part(2)), floatTensor('b2', [C], part(3))],
  });
}

export interface MagicSetup {
  /** Hidden units. */
  readonly hidden: number;
  /** Gradient steps, step size, λ. */
  readonly steps: number;
  readonly learningRate: number;
  readonly l2: number;
  /** θ_0 ~ N(0, initScale²), drawn with `seed`; the subsets are drawn with seed + 1. */
  readonly initScale: number;
  readonly seed: number;
  /** Test examples (the first m of the wine test set). */
  readonly testExamples: number;
  /** Subsets per α. */
  readonly subsets: number;
  /** Fractions kept. */
  readonly alphas: readonly number[];
  /** Baselines to score too, at the trained θ_T: influence (exact Hessian) once per damping δ (those where H + δI is not positive definite are left out), TRAK, grad-dot. */
  readonly baselines?: { readonly dampings: readonly number[] } | false;
}

const testSet = (m: number): Examples => ({ x: { shape: [m, D], data: wine.test.x.data.slice(0, m * D) }, y: { shape: [m], data: wine.test.y.data.slice(0, m) } });

/**
 * Runs the setup: MAGIC's scores (and the baselines' at θ_T), then for each α `subsets` random subsets
 * of round(α·n) kept examples retrained from θ_0 by the same trainer ({@link retrainedLds}); LDS per method and α.
 */
export async function magicLds(s: MagicSetup): Promise<{ lds: Record<string, number[]>; trainLoss: number; testAccuracy: number }> {
  const train = wine.train;
  const n = train.x.shape[0]!;
  const m = s.testExamples;
  const test = testSet(m);
  const rng = new Rng(s.seed);
  const p = s.hidden * D + s.hidden + C * s.hidden + C;
  const init = Float64Array.from({ length: p }, () => rng.normal() * s.initScale);
  using model = await OnnxTrainingModel.load(wineMlp(init, s.hidden));
  const recipe = { steps: s.steps, learningRate: s.learningRate, l2: s.l2, init };
  const scores: Record<string, Float32Array> = {};
  {
    using r = await new Magic(model, recipe).attribute(train, test);
    scores['magic'] = r.values.dataSync() as Float32Array;
  }
  const { theta } = await trainFullBatch(model, train, recipe);
  const trainLoss = (await gradientMatrix(model, train, 'cross-entropy', { theta })).value.reduce((a, b) => a + b, 0) / n;
  let correct = 0;
  if (s.baselines) {
    using trained = await OnnxTrainingModel.load(wineMlp(theta, s.hidden));
    const logits = await trained.gradients(Float64Array.from(test.x.data), m, (z) => new Float64Array(z.length));
    for (let i = 0; i < m; i++) {
      const row = Array.from(logits.outputs.subarray(i * C, (i + 1) * C));
      if (row.indexOf(Math.max(...row)) === Number(test.y.data[i])) correct++;
    }
    for (const damping of s.baselines.dampings) {
      try {
        using inf = await new InfluenceFunctions(trained, { l2: s.l2, damping }).attribute(train, test);
        scores[`influence δ=${damping}`] = inf.values.dataSync() as Float32Array;
      } catch (e) {
        if ((e as { code?: string }).code !== 'invalid_argument') throw e; // H + δI not positive definite
      }
    }
    using trak = await new Trak(trained, { l2: s.l2 }).attribute(train, test);
    scores['trak'] = trak.values.dataSync() as Float32Array;
    using dot = await new GradientSimilarity(trained).attribute(train, test);
    scores['grad-dot'] = dot.values.dataSync() as Float32Array;
  }
  // the ground truth, one seeded set of subsets per α (seed + 1 + its index), retrained by the same trainer
  const retrain = trainerRetrain(model, train, test, recipe);
  const lds: Record<string, number[]> = Object.fromEntries(Object.keys(scores).map((k) => [k, []]));
  for (const [a, alpha] of s.alphas.entries()) {
    const truth = await retrainedLds(scores['magic']!, m, n, retrain, { alpha, subsets: s.subsets, seed: s.seed + 1 + a });
    for (const [name, sc] of Object.entries(scores)) lds[name]!.push(linearDatamodelingScore(sc, m, n, truth.subsets, truth.losses).lds);
  }
  return { lds, trainLoss, testAccuracy: s.baselines ? correct / m : NaN };
}
