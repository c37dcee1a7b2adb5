import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertPositiveInt, assertSameShape } from '../core/assert.js';
import { resolveBaseline } from '../core/baseline.js';
import { InvalidArgumentError } from '../core/errors.js';
import { pearson } from '../core/linalg.js';
import { Rng } from '../core/random.js';
import { withScope } from '../core/scope.js';
import type { Baseline, RunControl, Target } from '../core/types.js';
import type { ModelAdapter } from '../models/model.js';
import { evaluateObjective } from '../attr/internal/evaluate.js';
import { evaluatePerturbations } from '../attr/internal/perturb.js';
import { prepare } from '../attr/internal/prepare.js';
import { resolveFeatureMask, type FeatureMaskInput } from '../attr/masks.js';
import { regionVariables } from '../attr/sensitivity/gsa.js';

export interface MuFidelityOptions extends RunControl {
  readonly target: Target;
  readonly baselines?: Baseline;
  /** Random subsets per input. Default 128. */
  readonly samples?: number;
  /** Probability that a feature is in a subset (removed). Default 0.2 (Xplique). */
  readonly subsetFraction?: number;
  /** Images: features are the cells of a gridSize × gridSize grid. Default 9 (Xplique). */
  readonly gridSize?: number;
  /** Other inputs, or to override the grid: feature groups. Default: every element. */
  readonly featureMask?: FeatureMaskInput;
}

/**
 * MuFidelity (Bhatt, Weller, Moura 2020): the Pearson correlation, over random subsets S of features,
 * between the attribution they carry, Σ_{i∈S} a_i, and the drop of the target when they are set to
 * the baseline, F(x) − F(x with S = b). Per row; higher is better (1 = the attribution predicts every
 * subset's effect up to scale).
 *
 * Cost: `batch × (samples + 1)` forward rows.
 * @see Bhatt, Weller, Moura (2020), https://arxiv.org/abs/2005.00631
 */
export async function muFidelity(model: ModelAdapter, x: tf.Tensor, attribution: tf.Tensor, opts: MuFidelityOptions): Promise<Float64Array> {
  const fn = 'muFidelity';
  assertBatch(x, 'x', fn);
  assertSameShape(attribution, x, fn);
  const samples = opts.samples ?? 128;
  assertPositiveInt(samples, 'samples', fn);
  const p = opts.subsetFraction ?? 0.2;
  if (!(p > 0 && p < 1)) throw new InvalidArgumentError(`Argument 'subsetFraction' passed to '${fn}' must be in (0, 1), got ${p}`, { arg: 'subsetFraction', fn, value: p });
  const groups = x.rank === 4 && opts.featureMask === undefined ? regionVariables(x.shape, { gridSize: opts.gridSize ?? 9 }, fn) : resolveFeatureMask(opts.featureMask, x.shape.slice(1), fn);
  const { run, target, batchSize, n } = await prepare(model, x, opts, { fn, cost: x.shape[0]! * (samples + 1), exact: true });
  const f = groups.count;
  const rng = new Rng(opts.seed ?? 0);
  const subsets = Array.from({ length: n * samples }, () => Uint8Array.from({ length: f }, () => (rng.next() < p ? 1 : 0)));
  const a = await attribution.data();
  const e = groups.featureOf.length;
  return withScope(async (keep) => {
    const base = keep(resolveBaseline(opts.baselines, x, fn));
    const fx = await evaluateObjective(model, x, target, run, batchSize, fn);
    const fs = await evaluatePerturbations(
      model,
      x,
      base,
      {
        count: n * samples,
        rowOf: (j) => Math.floor(j / samples),
        replaced: (j, copy) => {
          const s = subsets[j]!;
          for (let g = 0; g < f; g++) {
            if (!s[g]) continue;
            const runs = groups.runs[g]!;
            for (let r = 0; r < runs.length; r += 2) copy(runs[r]!, runs[r + 1]!);
          }
        },
      },
      target,
      run,
      batchSize,
      fn,
    );
    run.finish();
    return Float64Array.from({ length: n }, (_, i) => {
      const carried = new Float64Array(samples);
      const drops = new Float64Array(samples);
      for (let k = 0; k < samples; k++) {
        const s = subsets[i * samples + k]!;
        let sum = 0;
        for (let q = 0; q < e; q++) if (s[groups.featureOf[q]!]) sum += a[i * e + q]!;
        carried[k] = sum;
        drops[k] = fx[i]! - fs[i * samples + k]!;
      }
      return pearson(carried, drops);
    });
  });
}
