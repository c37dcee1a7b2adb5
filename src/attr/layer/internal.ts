import * as tf from '@tensorflow/tfjs-core';
import { assertBatch } from '../../core/assert.js';
import { resolveBaseline } from '../../core/baseline.js';
import { chunks, resolveBatchSize } from '../../core/batching.js';
import { Budget } from '../../core/budget.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { FeatureAttribution, LayerAttribution } from '../../core/result.js';
import { checkTarget, objectiveFor, rangeIds, type ResolvedTarget } from '../../core/target.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import { gatherInputs, requireHooks, type DifferentiableModel, type HookedModel } from '../../models/model.js';

/** Options every layer method shares: the layer is a setting of the method, like Captum's constructor argument. */
export interface LayerMethodSettings {
  /** Hook name of the layer (its layer name; see `model.hookNames`). */
  readonly layer: string;
}

/** The model seen from the layer, and the options that feed it (original input bound by name, budget net of `extraRows`). */
export interface OnLayer {
  readonly view: DifferentiableModel;
  readonly inner: AttributeOptions;
}

/** Checks the model, layer, batch, target and whole budget (`cost` rows, `extraRows` of them spent here), then builds the layer view. */
export function onLayer(model: HookedModel, layer: string, x: tf.Tensor, opts: AttributeOptions, spec: { fn: string; cost: number; extraRows: number }): OnLayer {
  assertBatch(x, 'x', spec.fn);
  checkTarget(opts?.target, x.shape[0]!, spec.fn);
  Budget.start(opts, { total: spec.cost, fn: spec.fn, exact: true });
  const view = model.atLayer(layer);
  const name = model.inputNames?.[0] ?? 'input';
  const inputs = { ...(opts.inputs ?? {}), [name]: x };
  const max = opts.maxEvaluations;
  const inner: AttributeOptions = { ...opts, inputs, ...(max === undefined ? {} : { maxEvaluations: max - spec.extraRows }) };
  return { view, inner };
}

/**
 * The layer's output for every row of `x`, in chunks of `batchSize` rows (`run` counts them when
 * given). `inputs` are the model's other inputs, one row per row of `x`. The caller owns the result.
 */
export async function activationsOf(
  model: HookedModel,
  layer: string,
  x: tf.Tensor,
  inputs: AttributeOptions['inputs'],
  batchSize: number,
  run?: Budget,
): Promise<tf.Tensor> {
  const n = x.shape[0]!;
  const parts: tf.Tensor[] = [];
  try {
    for (const [s, e] of chunks(n, batchSize)) {
      await run?.checkpoint(e - s);
      const xs = s === 0 && e === n ? x : tf.slice(x, s, e - s);
      const rows = rangeIds(s, e);
      try {
        parts.push(await model.activation(xs, layer, inputs ? { rows, inputs } : { rows }));
      } finally {
        if (xs !== x) xs.dispose();
      }
    }
    const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    if (parts.length === 1) parts.length = 0; // the single part is the result
    return out;
  } finally {
    // the parts of a concatenated result, or everything gathered before a failure
    tf.dispose(parts);
  }
}

/** The layer's output for `x`, and for the baseline resolved in input space when asked. The caller owns both. */
export async function layerActivations(model: HookedModel, layer: string, x: tf.Tensor, opts: AttributeOptions, baselines: AttributeOptions['baselines'] | null, fn: string): Promise<{ acts: tf.Tensor; base?: tf.Tensor }> {
  const batchSize = resolveBatchSize(opts.batchSize, fn);
  const acts = await activationsOf(model, layer, x, opts.inputs, batchSize);
  if (baselines === null) return { acts };
  const b = resolveBaseline(baselines, x, fn);
  try {
    return { acts, base: await activationsOf(model, layer, b, opts.inputs, batchSize) };
  } catch (e) {
    acts.dispose();
    throw e;
  } finally {
    b.dispose();
  }
}

/** A feature attribution computed on the layer view, re-labelled as the layer attribution it is (takes ownership). */
export function asLayerResult(method: MethodId, layer: string, r: FeatureAttribution, extraRows: number): LayerAttribution {
  return new LayerAttribution(method, layer, r.values, { ...r.diagnostics, evaluations: r.diagnostics.evaluations + extraRows });
}

/** The constructor every layer method shares: the model (checked for layer access) and its layer (checked to exist). */
export abstract class LayerMethod {
  protected readonly model: HookedModel;
  readonly layer: string;
  constructor(model: HookedModel, settings: LayerMethodSettings, method: string) {
    ({ model: this.model, layer: this.layer } = layerModel(model, settings, method));
  }
}

/** Runtime checks of a layer method's constructor. */
export function layerModel(model: HookedModel, settings: LayerMethodSettings | undefined, method: string): { model: HookedModel; layer: string } {
  requireHooks(model, method);
  const layer = settings?.layer;
  if (typeof layer !== 'string' || layer.length === 0) {
    throw new InvalidArgumentError(`'${method}' needs the layer to attribute: new ${method}(model, { layer: 'name' }); layers: ${model.hookNames.join(', ')}`, {
      arg: 'layer',
      method,
      layers: model.hookNames,
    });
  }
  model.hookShape(layer); // unknown_hook now rather than at the first call
  return { model, layer };
}

/** One chunk of path points handed to a `layerPath` consumer, host arrays in point order. */
export interface PathChunk {
  /** Input row of each point. */
  readonly rowOf: Int32Array;
  /** Step index (0-based) of each point on its row's path. */
  readonly stepOf: Int32Array;
  /** Layer activations A(x_k), [points × E] row-major. */
  readonly acts: Float32Array;
  /** ∂F_t/∂A at A(x_k), [points × E]. */
  readonly grads: Float32Array;
}

/**
 * Walks the straight input path x_k = b + α_k (x − b) of every row (points in row-major order,
 * `batchSize` points per model call) and hands each chunk's layer activations and layer gradients to
 * `consume`. Each point costs two rows (activation up to the layer; forward+backward from it).
 */
export async function layerPath(
  model: HookedModel,
  layer: string,
  x: tf.Tensor,
  base: tf.Tensor,
  alphas: ArrayLike<number>,
  spec: { readonly target: ResolvedTarget; readonly run: Budget; readonly batchSize: number; readonly inputs: AttributeOptions['inputs']; readonly fn: string },
  consume: (chunk: PathChunk) => void,
): Promise<void> {
  const n = x.shape[0]!;
  const steps = alphas.length;
  const rowShape = x.shape.slice(1);
  const e = rowShape.reduce((a, b) => a * b, 1);
  const [xd, bd] = [(await x.data()) as Float32Array, (await base.data()) as Float32Array];
  const view = model.atLayer(layer);
  const inputName = model.inputNames?.[0] ?? 'input';
  const others = Object.keys(spec.inputs ?? {});
  for (const [s, end] of chunks(n * steps, spec.batchSize, spec.run)) {
    await spec.run.checkpoint(2 * (end - s));
    const m = end - s;
    const rowOf = new Int32Array(m);
    const stepOf = new Int32Array(m);
    const pts = new Float32Array(m * e);
    for (let j = 0; j < m; j++) {
      const row = Math.floor((s + j) / steps);
      const k = (s + j) % steps;
      rowOf[j] = row;
      stepOf[j] = k;
      const a = alphas[k]!;
      for (let q = 0, o = row * e; q < e; q++) pts[j * e + q] = bd[o + q]! + a * (xd[o + q]! - bd[o + q]!);
    }
    const points = tf.tensor(pts, [m, ...rowShape]);
    const fixed = others.length > 0 ? await gatherInputs({ rows: rowOf, inputs: spec.inputs! }, others, model.name) : {};
    try {
      const acts = await model.activation(points, layer, { rows: rangeIds(0, m), inputs: fixed });
      try {
        const grads = await view.gradients(acts, objectiveFor(spec.target, rowOf, spec.fn), { rows: rangeIds(0, m), inputs: { ...fixed, [inputName]: points } });
        try {
          consume({ rowOf, stepOf, acts: (await acts.data()) as Float32Array, grads: (await grads.data()) as Float32Array });
        } finally {
          grads.dispose();
        }
      } finally {
        acts.dispose();
      }
    } finally {
      points.dispose();
      tf.dispose(Object.values(fixed));
    }
  }
}
