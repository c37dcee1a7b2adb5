import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertOneOf } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks } from '../../core/batching.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireModel, type CallContext, type ModelAdapter } from '../../models/model.js';
import { prepare } from '../internal/prepare.js';
import type { FeatureMaskInput } from '../masks.js';
import { regionVariables } from './gsa.js';
import { defineMethod } from '../../core/method.js';
import { maskOption } from '../internal/options.js';

export const LIMA_SEARCHES = ['bidirectional', 'greedy'] as const;
export type LimaSearch = (typeof LIMA_SEARCHES)[number];

export interface LimaOptions extends AttributeOptions {
  /** Images: regions are the cells of a gridSize × gridSize grid. Default 5. */
  readonly gridSize?: number;
  /** Regions as feature groups (e.g. `slic(...)` superpixels); overrides the grid. */
  readonly featureMask?: FeatureMaskInput;
  /** 'bidirectional' (default): each step scores the remaining regions once and places the best first and the worst last; 'greedy': the best only. */
  readonly search?: LimaSearch;
  /** Weights of the confidence, consistency, collaboration and effectiveness terms. Default [1, 1, 1, 0.1]: the diversity sum grows with the subset, and at weight 1 it outweighs the other terms once two regions are chosen. */
  readonly weights?: readonly [number, number, number, number];
}

/** The ordered regions of one input, most important first, with the gain each had when it was placed. */
export interface LimaRanking {
  readonly order: Int32Array;
  readonly gains: Float64Array;
  readonly evaluations: number;
}

/**
 * LiMA, submodular subset selection over input regions (Chen et al. 2024, 2025). The set function of
 * a kept subset S (the other regions at the baseline), on the model's output vector y:
 * F(S) = λ₁ softmax(y(S))_t (confidence) + λ₂ cos(y(S), y(x)) (consistency with the whole input)
 * + λ₃ (1 − cos(y(V∖S), y(x))) (collaboration: what is left without S has lost it)
 * + λ₄ Σ_{s∈S} min_{s'∈S∖s} (1 − cos(y({s}), y({s'}))) (effectiveness: diverse regions).
 * The papers compute the feature terms in a foundation model's embedding space; with only the model
 * at hand attrib uses its output vector (logits), which keeps the method black-box.
 * Greedy search adds, at each step, the region with the largest F(S ∪ {r}); the bidirectional search
 * (the 2025 paper's speed-up, as attrib reads it) scores the remaining regions once per step and puts
 * the best at the front of the order and the worst at the back, so each step places two regions.
 * Each region's attribution is its gain when placed, made non-increasing along the order and clipped
 * at 0: the map decreases with the rank, as in the papers' figures.
 *
 * Cost: `batch × (1 + m + 2·Σ candidates)` forward rows for m regions: m(m + 1) + m + 1 for greedy,
 * about m²/2 + 2m for bidirectional.
 * @see Chen et al. (2024), https://arxiv.org/abs/2402.09164; Chen et al. (2025), https://arxiv.org/abs/2504.00470
 */
export class Lima implements Attributor<LimaOptions> {
  readonly id = 'lima' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'Lima');
  }

  cost(shape: readonly number[], opts: Partial<LimaOptions> = {}): number {
    const m = regionVariables(shape, { gridSize: opts.gridSize ?? lima.defaults.gridSize, ...(opts.featureMask ? { featureMask: opts.featureMask } : {}) }, 'Lima.cost').count;
    return (shape[0] ?? 1) * (1 + m + 2 * candidateCount(m, opts.search ?? lima.defaults.search));
  }

  async attribute(x: tf.Tensor, opts: LimaOptions): Promise<FeatureAttribution> {
    const fn = 'Lima.attribute';
    assertBatch(x, 'x', fn);
    const search = opts?.search ?? lima.defaults.search;
    assertOneOf(search, LIMA_SEARCHES, 'search', fn);
    const weights = opts.weights ?? [1, 1, 1, 0.1];
    if (weights.length !== 4 || weights.some((v) => !Number.isFinite(v) || v < 0)) {
      throw new InvalidArgumentError(`Argument 'weights' passed to '${fn}' must be 4 non-negative numbers (confidence, consistency, collaboration, effectiveness), got ${JSON.stringify(weights)}`, { arg: 'weights', fn });
    }
    const groups = regionVariables(x.shape, { gridSize: opts.gridSize ?? lima.defaults.gridSize, ...(opts.featureMask ? { featureMask: opts.featureMask } : {}) }, fn);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, opts), exact: true });
    if (target.kind !== 'index') throw new InvalidArgumentError(`'${fn}' needs an output index per row (its confidence term is the target class's softmax probability), not a function target`, { arg: 'target', fn });
    const m = groups.count;
    const e = groups.featureOf.length;
    const rowShape = x.shape.slice(1);
    const xd = (await x.data()) as Float32Array;
    const base = resolveBaseline(opts.baselines, x, fn);
    const bd = (await base.data()) as Float32Array;
    base.dispose();
    const values = new Float32Array(n * e);
    for (let i = 0; i < n; i++) {
      const t = target.indices[i]!;
      // outputs of inputs that keep the regions flagged in each mask, the others at the baseline
      const outputsOf = async (keeps: Uint8Array[]): Promise<Float32Array[]> => {
        const out: Float32Array[] = [];
        for (const [s, end] of chunks(keeps.length, batchSize)) {
          await run.checkpoint(end - s);
          const batch = new Float32Array((end - s) * e);
          for (let j = s; j < end; j++) {
            const keep = keeps[j]!;
            const o = (j - s) * e;
            for (let q = 0; q < e; q++) batch[o + q] = keep[groups.featureOf[q]!] ? xd[i * e + q]! : bd[i * e + q]!;
          }
          const ys = await forwardRows(model, batch, [end - s, ...rowShape], new Int32Array(end - s).fill(i));
          const c = ys.length / (end - s);
          for (let j = 0; j < end - s; j++) out.push(ys.subarray(j * c, (j + 1) * c));
        }
        return out;
      };
      const all = new Uint8Array(m).fill(1);
      const single = Array.from({ length: m }, (_, r) => Uint8Array.from({ length: m }, (_, g) => (g === r ? 1 : 0)));
      const [full, ...alone] = await outputsOf([all, ...single]);
      const f = (kept: Float32Array, rest: Float32Array, members: readonly number[]): number => {
        let eff = 0;
        for (const a of members) {
          let nearest = members.length > 1 ? Infinity : 0;
          for (const b of members) if (b !== a) nearest = Math.min(nearest, 1 - cosine(alone[a]!, alone[b]!));
          eff += nearest;
        }
        return weights[0] * softmaxAt(kept, t) + weights[1] * cosine(kept, full!) + weights[2] * (1 - cosine(rest, full!)) + weights[3] * eff;
      };
      const ranking = await rank(m, search, async (chosen, candidates) => {
        const keeps: Uint8Array[] = [];
        for (const r of candidates) {
          const s = new Uint8Array(m);
          for (const c of chosen) s[c] = 1;
          s[r] = 1;
          keeps.push(s, Uint8Array.from(s, (v) => 1 - v));
        }
        const ys = await outputsOf(keeps);
        return candidates.map((r, k) => f(ys[2 * k]!, ys[2 * k + 1]!, [...chosen, r]));
      });
      const scores = rankScores(ranking);
      for (let q = 0; q < e; q++) values[i * e + q] = scores[groups.featureOf[q]!]!;
    }
    return new FeatureAttribution(this.id, tf.tensor(values, x.shape), withTargets(run.finish(), targetList(target)));
  }
}

/** Candidate evaluations of a search over m regions. */
function candidateCount(m: number, search: LimaSearch): number {
  let total = 0;
  if (search === 'greedy') for (let k = 0; k < m; k++) total += m - k;
  else for (let left = m; left > 0; left -= 2) total += left;
  return total;
}

/**
 * The region order by greedy or bidirectional search. `score(chosen, candidates)` gives F(chosen ∪ {r})
 * for each candidate r. Gains are F(S ∪ {r}) − F(S) at the time r was placed.
 */
export async function rank(m: number, search: LimaSearch, score: (chosen: readonly number[], candidates: readonly number[]) => Promise<number[]>): Promise<LimaRanking> {
  const front: number[] = [];
  const back: number[] = [];
  const gainOf = new Float64Array(m);
  let remaining = Array.from({ length: m }, (_, r) => r);
  let current = 0;
  let evaluations = 0;
  while (remaining.length > 0) {
    const values = await score(front, remaining);
    evaluations += remaining.length;
    let best = 0;
    values.forEach((v, k) => {
      if (v > values[best]!) best = k;
    });
    // the worst among the others (ties: the last one), so that two regions are placed per step
    let worst = best === values.length - 1 ? 0 : values.length - 1;
    values.forEach((v, k) => {
      if (k !== best && v < values[worst]!) worst = k;
    });
    const b = remaining[best]!;
    gainOf[b] = values[best]! - current;
    front.push(b);
    if (search === 'bidirectional' && remaining.length > 1) {
      const w = remaining[worst]!;
      gainOf[w] = values[worst]! - current;
      back.unshift(w);
      remaining = remaining.filter((r) => r !== b && r !== w);
    } else {
      remaining = remaining.filter((r) => r !== b);
    }
    current = values[best]!;
  }
  const order = Int32Array.from([...front, ...back]);
  return { order, gains: Float64Array.from(order, (r) => gainOf[r]!), evaluations };
}

/**
 * Region scores that decrease with rank: the gains, made non-increasing along the order and clipped
 * at 0 (a region that lowers the score gets none), plus a tie-break of 0.1% of the largest gain that
 * keeps the order strict.
 */
function rankScores(r: LimaRanking): Float64Array {
  const m = r.order.length;
  const scores = new Float64Array(m);
  let run = Infinity;
  const along = Array.from(r.gains, (g) => (run = Math.min(run, g)));
  const top = Math.max(...along, 0) || 1;
  r.order.forEach((region, k) => (scores[region] = Math.max(0, along[k]!) + (top * 1e-3 * (m - k)) / m));
  return scores;
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < a.length; k++) (ab += a[k]! * b[k]!), (aa += a[k]! ** 2), (bb += b[k]! ** 2);
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
};

function softmaxAt(y: ArrayLike<number>, t: number): number {
  let max = -Infinity;
  for (let k = 0; k < y.length; k++) max = Math.max(max, y[k]!);
  let sum = 0;
  for (let k = 0; k < y.length; k++) sum += Math.exp(y[k]! - max);
  return Math.exp(y[t]! - max) / sum;
}

/** The model's whole output for rows built on the host, [rows × outputs]. */
async function forwardRows(model: ModelAdapter, batch: Float32Array, shape: readonly number[], rows: Int32Array): Promise<Float32Array> {
  const ctx: CallContext = { rows };
  if (model.forwardHost) return (await model.forwardHost(batch, shape, ctx)).data;
  const input = tf.tensor(batch, [...shape]);
  try {
    const y = await model.forward(input, ctx);
    try {
      return Float32Array.from(await y.data());
    } finally {
      y.dispose();
    }
  } finally {
    input.dispose();
  }
}

/** LiMA's one declaration: catalogue entry, CLI flags and defaults. */
export const lima = defineMethod({
  id: 'lima',
  title: 'LiMA (submodular region ranking)',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × (1 + m + 2·Σ candidates), m regions (≈ m²/2 bidirectional, m² greedy)',
  reference: 'Chen et al. 2024, arXiv:2402.09164; Chen et al. 2025, arXiv:2504.00470',
  stochastic: false,
  output: 'feature',
  options: {
    gridSize: { type: 'int', help: 'cells per side of the region grid (images)', default: 5 },
    ...maskOption,
    search: { type: 'enum', values: LIMA_SEARCHES, help: 'bidirectional (both ends per step) or greedy', default: 'bidirectional' },
  },
  create: (m: ModelAdapter) => new Lima(m),
});
