import type * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertFinite } from '../../core/assert.js';
import { resolveBatchSize } from '../../core/batching.js';
import { Budget } from '../../core/budget.js';
import { checkTarget, checkTargetRange, resolveTarget, type ResolvedTarget } from '../../core/target.js';
import type { AttributeOptions } from '../../core/types.js';
import type { ModelAdapter } from '../../models/model.js';

export interface Prepared {
  readonly run: Budget;
  readonly target: ResolvedTarget;
  readonly batchSize: number;
  readonly n: number;
}

/**
 * The common start of every `attribute` call: validate the batch (rank, finiteness), the target and
 * the budget (`cost` rows, plus one forward row per input for `target: 'auto'`), then resolve the target.
 */
export async function prepare(
  model: ModelAdapter,
  x: tf.Tensor,
  opts: AttributeOptions,
  spec: { readonly fn: string; readonly cost: number; readonly exact: boolean; readonly minimum?: number },
): Promise<Prepared> {
  assertBatch(x, 'x', spec.fn);
  const n = x.shape[0]!;
  if (opts === undefined || opts === null || typeof opts !== 'object') {
    checkTarget(undefined, n, spec.fn);
  }
  checkTarget(opts.target, n, spec.fn);
  const batchSize = resolveBatchSize(opts.batchSize, spec.fn);
  await assertFinite(x, 'x', spec.fn);
  const autoCost = opts.target === 'auto' ? n : 0;
  const budgetSpec = {
    total: spec.cost + autoCost,
    fn: spec.fn,
    exact: spec.exact,
    ...(spec.minimum === undefined ? {} : { minimum: spec.minimum + autoCost }),
  };
  const run = Budget.start(opts, budgetSpec);
  const target = await resolveTarget(model, x, opts.target, run, batchSize, spec.fn);
  checkTargetRange(model, target, spec.fn);
  return { run, target, batchSize, n };
}
