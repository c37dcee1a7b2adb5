import * as tf from '@tensorflow/tfjs-core';
import { assertBatch } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, withTargets } from '../../core/result.js';
import { withScope } from '../../core/scope.js';
import { targetList } from '../../core/target.js';
import type { AttributeOptions, Attributor } from '../../core/types.js';
import { requireModel, type ModelAdapter } from '../../models/model.js';
import { evaluatePerturbations } from '../internal/perturb.js';
import { prepare } from '../internal/prepare.js';
import { stridesOf } from '../masks.js';
import { defineMethod } from '../../core/method.js';

export interface OcclusionOptions extends AttributeOptions {
  /** Window over the non-batch dims, in the model's layout (e.g. [4, 4, 3] for NHWC). A number applies to every dim. Default 1. */
  readonly window?: number | readonly number[];
  /** Strides over the non-batch dims. Default 1. */
  readonly strides?: number | readonly number[];
}

/**
 * Occlusion: slide a window over the input, replace it by the baseline, and give each element the
 * mean of F_t(x) − F_t(x occluded) over the windows covering it (Captum semantics: ⌈(D − w)/s⌉ + 1
 * window origins per dim, windows clipped at the edge).
 *
 * Cost: `batch × (windows + 1)` forward rows.
 * Axiom: on an additive model with window 1, each element gets its own term f_i(x_i) − f_i(b_i).
 *
 * @see Zeiler, Fergus (2014), https://arxiv.org/abs/1311.2901
 */
export class Occlusion implements Attributor<OcclusionOptions> {
  readonly id = 'occlusion' as const;
  constructor(private readonly model: ModelAdapter) {
    requireModel(model, 'Occlusion');
  }

  cost(shape: readonly number[], opts: Partial<OcclusionOptions> = {}): number {
    const { count } = windows(shape.slice(1), opts.window ?? occlusion.defaults.window, opts.strides ?? occlusion.defaults.strides, 'Occlusion.cost');
    return (shape[0] ?? 1) * (count + 1);
  }

  async attribute(x: tf.Tensor, opts: OcclusionOptions): Promise<FeatureAttribution> {
    const fn = 'Occlusion.attribute';
    assertBatch(x, 'x', fn);
    const rowShape = x.shape.slice(1);
    const win = windows(rowShape, opts?.window ?? occlusion.defaults.window, opts?.strides ?? occlusion.defaults.strides, fn);
    const { model, run, target, batchSize, n } = await prepare(this.model, x, opts, { fn, cost: this.cost(x.shape, opts), exact: true });
    return withScope(async (keep) => {
      const base = keep(resolveBaseline(opts.baselines, x, fn));
      // job 0 of each row: the input itself (F(x)); job 1 + w: window w occluded
      const per = win.count + 1;
      const v = await evaluatePerturbations(
        model,
        x,
        base,
        { count: n * per, rowOf: (j) => Math.floor(j / per), replaced: (j, copy) => j % per > 0 && win.forEachRun((j % per) - 1, copy) },
        target,
        run,
        batchSize,
        fn,
      );
      const e = win.coverage.length;
      const out = new Float32Array(n * e);
      for (let i = 0; i < n; i++) {
        const row = out.subarray(i * e, (i + 1) * e);
        for (let w = 0; w < win.count; w++) {
          const d = v[i * per]! - v[i * per + 1 + w]!;
          win.forEach(w, (el) => (row[el]! += d));
        }
        for (let el = 0; el < e; el++) row[el] = win.coverage[el]! > 0 ? row[el]! / win.coverage[el]! : 0;
      }
      return new FeatureAttribution(this.id, tf.tensor(out, x.shape), withTargets(run.finish(), targetList(target)));
    });
  }
}

interface Windows {
  readonly count: number;
  /** Number of windows covering each element. */
  readonly coverage: Int32Array;
  forEach(w: number, visit: (element: number) => void): void;
  /** The window's elements as runs contiguous along the last dim. */
  forEachRun(w: number, copy: (start: number, length: number) => void): void;
}

function windows(rowShape: readonly number[], window: number | readonly number[], strides: number | readonly number[], fn: string): Windows {
  const r = rowShape.length;
  const ws = typeof window === 'number' ? new Array<number>(r).fill(window) : [...window];
  const ss = typeof strides === 'number' ? new Array<number>(r).fill(strides) : [...strides];
  if (ws.length !== r) {
    throw new InvalidArgumentError(`Argument 'window' passed to '${fn}' must have one size per non-batch dim (${r}: [${rowShape.join(', ')}]), got [${ws.join(', ')}]`, {
      arg: 'window',
      fn,
      expected: r,
      actual: ws,
    });
  }
  if (ss.length !== r) {
    throw new InvalidArgumentError(`Argument 'strides' passed to '${fn}' must have one stride per non-batch dim (${r}), got [${ss.join(', ')}]`, {
      arg: 'strides',
      fn,
    });
  }
  ws.forEach((w, d) => {
    if (!Number.isInteger(w) || w < 1 || w > rowShape[d]!) {
      throw new InvalidArgumentError(`Argument 'window' passed to '${fn}' must be between 1 and the dim size in each dim; dim ${d} has size ${rowShape[d]}, window ${w}`, {
        arg: 'window',
        fn,
        dim: d,
      });
    }
  });
  ss.forEach((s, d) => {
    if (!Number.isInteger(s) || s < 1) {
      throw new InvalidArgumentError(`Argument 'strides' passed to '${fn}' must be positive integers, got ${s} in dim ${d}`, { arg: 'strides', fn });
    }
  });
  const counts = rowShape.map((dim, d) => Math.ceil((dim - ws[d]!) / ss[d]!) + 1);
  const count = counts.reduce((a, b) => a * b, 1);
  const rowStrides = stridesOf(rowShape);
  const countStrides = stridesOf(counts);
  const size = rowShape.reduce((a, b) => a * b, 1);
  /** Visits every run of window w contiguous along the last dim (an odometer over the other dims). */
  const forEachRun = (w: number, copy: (start: number, length: number) => void): void => {
    const lo: number[] = [];
    const hi: number[] = [];
    for (let d = 0; d < r; d++) {
      const k = Math.floor(w / countStrides[d]!) % counts[d]!;
      lo.push(k * ss[d]!);
      hi.push(Math.min(rowShape[d]!, k * ss[d]! + ws[d]!));
    }
    const len = hi[r - 1]! - lo[r - 1]!;
    const idx = lo.slice(0, r - 1);
    for (;;) {
      let el = lo[r - 1]!;
      for (let d = 0; d < r - 1; d++) el += idx[d]! * rowStrides[d]!;
      copy(el, len);
      let d = r - 2;
      while (d >= 0) {
        idx[d]!++;
        if (idx[d]! < hi[d]!) break;
        idx[d] = lo[d]!;
        d--;
      }
      if (d < 0) break;
    }
  };
  const forEach = (w: number, visit: (el: number) => void): void =>
    forEachRun(w, (start, length) => {
      for (let q = 0; q < length; q++) visit(start + q);
    });
  const coverage = new Int32Array(size);
  for (let w = 0; w < count; w++) forEach(w, (el) => coverage[el]!++);
  return { count, coverage, forEach, forEachRun };
}

/** Occlusion's one declaration: catalogue entry, CLI flags and defaults. */
export const occlusion = defineMethod({
  id: 'occlusion',
  title: 'Occlusion',
  family: 'perturbation',
  requires: 'forward',
  cost: 'batch × (windows + 1)',
  reference: 'Zeiler & Fergus 2014, arXiv:1311.2901',
  stochastic: false,
  output: 'feature',
  options: {
    window: { type: 'int-list', help: 'window over the non-batch dims, model layout (e.g. 4,4,3)', default: 1 },
    strides: { type: 'int-list', help: 'strides over the non-batch dims', default: 1 },
  },
  create: (m: ModelAdapter) => new Occlusion(m),
});
