import * as tf from '@tensorflow/tfjs-core';
import { assertBatch, assertFinite } from '../../core/assert.js';
import { resolveBatchSize } from '../../core/batching.js';
import { Budget } from '../../core/budget.js';
import { checkTarget, type ResolvedTarget } from '../../core/target.js';
import { checkTargetRange, resolveTarget } from '../../models/target.js';
import type { AttributeOptions, Objective } from '../../core/types.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../core/errors.js';
import { isDifferentiable, type CallContext, type ModelAdapter } from '../../models/model.js';

export interface Prepared<M extends ModelAdapter> {
  /** The model with `opts.inputs` bound (the model itself when there are none). */
  readonly model: M;
  readonly run: Budget;
  readonly target: ResolvedTarget;
  readonly batchSize: number;
  readonly n: number;
}

/**
 * The common start of every `attribute` call: validate the batch (rank, finiteness), the target and
 * the budget (`cost` rows, plus one forward row per input for `target: 'auto'`), then resolve the target.
 */
export async function prepare<M extends ModelAdapter>(
  unbound: M,
  x: tf.Tensor,
  opts: AttributeOptions,
  spec: { readonly fn: string; readonly cost: number; readonly exact: boolean; readonly minimum?: number },
): Promise<Prepared<M>> {
  assertBatch(x, 'x', spec.fn);
  const n = x.shape[0]!;
  if (opts === undefined || opts === null || typeof opts !== 'object') {
    checkTarget(undefined, n, spec.fn);
  }
  checkTarget(opts.target, n, spec.fn);
  const batchSize = resolveBatchSize(opts.batchSize, spec.fn);
  const model = bindInputs(unbound, opts.inputs, n, spec.fn);
  await assertFinite(x, 'x', spec.fn);
  const autoCost = opts.target === 'auto' ? n : 0;
  const budgetSpec = {
    total: spec.cost + autoCost,
    fn: spec.fn,
    exact: spec.exact,
    ...(spec.minimum === undefined ? {} : { minimum: spec.minimum + autoCost }),
  };
  const run = Budget.start(opts, { ...budgetSpec, model: unbound });
  const target = await resolveTarget(model, x, opts.target, run, batchSize, spec.fn);
  checkTargetRange(model, target, spec.fn);
  return { model, run, target, batchSize, n };
}

/**
 * The model with fixed extra inputs attached to every call (validated: one row per input row). The
 * binding owns nothing: the caller keeps ownership of the model and of the tensors.
 */
export function bindInputs<M extends ModelAdapter>(model: M, inputs: AttributeOptions['inputs'], n: number, fn: string): M {
  if (inputs === undefined || Object.keys(inputs).length === 0) return model;
  for (const [name, t] of Object.entries(inputs)) {
    if (!(t instanceof tf.Tensor) || t.isDisposed) {
      throw new InvalidArgumentError(`Input '${name}' in 'inputs' passed to '${fn}' must be a live tf.Tensor`, { arg: 'inputs', fn, input: name });
    }
    if (t.rank < 1 || t.shape[0] !== n) {
      throw new ShapeMismatchError(`Input '${name}' in 'inputs' passed to '${fn}' must have one row per input row (${n}), got shape [${t.shape.join(', ')}]`, {
        arg: 'inputs',
        fn,
        input: name,
        expected: n,
        actual: t.shape,
      });
    }
  }
  const hostInputs = (shape: readonly number[], ctx?: CallContext): CallContext => ({ rows: ctx?.rows ?? Array.from({ length: shape[0]! }, (_, i) => i), inputs });
  const withInputs = (x: tf.Tensor, ctx?: CallContext): CallContext => hostInputs(x.shape, ctx);
  const bound: ModelAdapter = {
    name: model.name,
    inputShape: model.inputShape,
    ...(model.outputShape ? { outputShape: model.outputShape } : {}),
    ...(model.inputNames ? { inputNames: model.inputNames } : {}),
    capabilities: model.capabilities,
    forward: (x, ctx) => model.forward(x, withInputs(x, ctx)),
    ...(model.forwardHost
      ? { forwardHost: (data: Float32Array, shape: readonly number[], ctx?: CallContext) => model.forwardHost!(data, shape, hostInputs(shape, ctx)) }
      : {}),
    dispose: () => undefined,
  };
  if (isDifferentiable(model)) {
    return {
      ...bound,
      capabilities: model.capabilities,
      gradients: (x: tf.Tensor, o: Objective, ctx?: CallContext) => model.gradients(x, o, withInputs(x, ctx)),
      ...(model.gradientsHost ? { gradientsHost: (data: Float32Array, shape: readonly number[], o: Objective, ctx?: CallContext) => model.gradientsHost!(data, shape, o, hostInputs(shape, ctx)) } : {}),
    } as unknown as M;
  }
  return bound as M;
}

/**
 * Anytime (sampling) methods: the largest sample count ≤ `requested` whose cost, plus one forward
 * row per input for `target: 'auto'`, fits `maxEvaluations`. Below `minimum` the caller's budget check
 * throws `budget_exceeded`. `truncated` tells the result that the budget cut the work.
 */
export function samplesWithin(
  opts: AttributeOptions,
  n: number,
  requested: number,
  cost: (samples: number) => number,
  minimum: number,
): { samples: number; truncated: boolean } {
  const max = opts.maxEvaluations;
  const auto = opts.target === 'auto' ? n : 0;
  if (max === undefined || cost(requested) + auto <= max) return { samples: requested, truncated: false };
  let lo = Math.min(minimum, requested);
  let hi = requested;
  if (cost(lo) + auto > max) return { samples: lo, truncated: true };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cost(mid) + auto <= max) lo = mid;
    else hi = mid - 1;
  }
  return { samples: lo, truncated: true };
}
