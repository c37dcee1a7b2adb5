import * as tf from '@tensorflow/tfjs-core';
import { AbortedError, isAttributionError, ShapeMismatchError, type AttributionError } from '../core/errors.js';
import type { CatalogueAttributor, CatalogueOptions } from '../core/method.js';
import type { Progress } from '../core/types.js';
import type { ModelAdapter } from '../models/model.js';
import type { TensorData } from '../io/tensor-json.js';
import type { Dataset, DatasetItem, DatasetReader } from './dataset.js';
import { scoreMetric, type JobMetric, type MetricContext } from './metrics.js';
import type { ResultRow, ResultStore } from './store.js';

/** Largest attributions kept per row in `top_features` / `top_values`. */
export const TOP_FEATURES = 10;

/** A dataset job: one configured method over every input, for each target, into a store. */
export interface Job {
  readonly model: ModelAdapter;
  readonly dataset: Dataset;
  readonly reader: DatasetReader;
  /** The method, configured (`descriptor.create(model, settings)`). */
  readonly method: CatalogueAttributor;
  /** Options of every call but the target (method options, baselines, batchSize, seed …). */
  readonly options: Omit<CatalogueOptions, 'target' | 'signal' | 'onProgress'>;
  /** Per-input options computed from the input (e.g. a feature mask segmenting it). */
  readonly optionsFor?: (x: tf.Tensor, item: DatasetItem) => Promise<Readonly<Record<string, unknown>>>;
  /** Targets per input: output indices or `auto` (an input's own `target` overrides them). */
  readonly targets: readonly (number | 'auto')[];
  readonly metrics: readonly JobMetric[];
  readonly metricOptions: Pick<MetricContext, 'steps' | 'samples' | 'seed'>;
  readonly signal?: AbortSignal;
}

/** A job run locally into a store. */
export interface LocalJob extends Job {
  readonly store: ResultStore;
  /** Called after every stored item: `done` counts the items finished before this run too. */
  readonly onProgress?: (p: Progress) => void;
}

/** One work item: an input and a target (as asked), with its key in the store. */
export interface WorkItem {
  readonly key: string;
  readonly item: DatasetItem;
  readonly seq: number;
  readonly target: number | 'auto';
}

/** What a run did. */
export interface JobSummary {
  readonly total: number;
  /** Items already in the store when the run started. */
  readonly resumed: number;
  /** Items computed by this run. */
  readonly computed: number;
  /** Items that failed with a typed error (stored with `status = 'error'`), in this run. */
  readonly failed: number;
  readonly elapsedMs: number;
}

/** The work items of a job, in order: one per (input, target). */
export function workItems(dataset: Dataset, targets: readonly (number | 'auto')[]): WorkItem[] {
  return dataset.items.flatMap((item, seq) => (item.target !== undefined ? [item.target] : targets).map((target) => ({ key: `${item.id}@${target}`, item, seq, target })));
}

/**
 * Runs a job: every work item not yet in the store is attributed alone (one input, one target), so
 * its result does not depend on which items ran before or beside it, scored with the metrics and
 * stored durably before the next begins. Killed at any moment and run again, a job computes exactly
 * the items missing from its store.
 *
 * An input that fails with a typed error (a malformed file, a wrong shape, a budget) is stored with
 * `status = 'error'` and the job goes on, unless nothing has succeeded yet: then the error is thrown,
 * since the settings are likely wrong for every input.
 *
 * Cost: per item the method's cost for one row, one forward row for the score, and the metrics' costs.
 * @throws {AbortedError} `aborted` when `signal` aborts (the items stored so far stay).
 */
export async function runJob(job: LocalJob): Promise<JobSummary> {
  const t0 = performance.now();
  const items = workItems(job.dataset, job.targets);
  const done = await job.store.doneItems();
  const resumed = items.filter((w) => done.has(w.key)).length;
  let anyOk = Number((await job.store.query("SELECT count(*) AS n FROM results WHERE status = 'ok'")).rows[0]?.['n'] ?? 0) > 0;
  let computed = 0;
  let failed = 0;
  const rowShape = await expectedRowShape(job);
  for (const w of items) {
    if (done.has(w.key)) continue;
    if (job.signal?.aborted) throw new AbortedError('runJob', job.signal.reason);
    const row = await computeItem(job, w, rowShape, !anyOk);
    if (row.status === 'ok') anyOk = true;
    else failed++;
    await job.store.put(row);
    computed++;
    job.onProgress?.({ phase: 'run', done: resumed + computed, total: items.length });
  }
  return { total: items.length, resumed, computed, failed, elapsedMs: performance.now() - t0 };
}

/** The shape every input of a job must have: the model's, else (a model that does not declare it) the first input's. */
export async function expectedRowShape(job: Job): Promise<readonly (number | null)[] | undefined> {
  if (job.model.inputShape.length > 1) return job.model.inputShape;
  const first = job.dataset.items[0];
  return first ? job.reader.read(first).then((t) => t.shape, () => undefined) : undefined;
}

/**
 * One work item's result: attribution, metrics, score and top features, or, for a typed error of
 * the input (not `aborted` or `backend_failure`), a row with `status = 'error'`; with `strict`, every
 * error is thrown.
 */
export async function computeItem(job: Job, w: WorkItem, rowShape: readonly (number | null)[] | undefined, strict = false): Promise<ResultRow> {
  const start = performance.now();
  try {
    return await attributeItem(job, await job.reader.read(w.item), w, start, rowShape);
  } catch (e) {
    if (!isAttributionError(e) || e.code === 'aborted' || e.code === 'backend_failure' || strict) throw e;
    return errorRow(job, w, e, start);
  }
}

async function attributeItem(job: Job, data: TensorData, w: WorkItem, start: number, want: readonly (number | null)[] | undefined): Promise<ResultRow> {
  if (want && (data.shape.length !== want.length || want.some((d, i) => d !== null && d !== data.shape[i]))) {
    throw new ShapeMismatchError(`Input '${w.item.id}' has shape [${data.shape.slice(1).join(', ')}] but the model takes rows of [${want.slice(1).map((d) => d ?? '*').join(', ')}]`, { id: w.item.id, expected: want, actual: data.shape });
  }
  const x = tf.tensor(data.dtype === 'int32' ? Float32Array.from(data.data) : data.data, [...data.shape], 'float32');
  try {
    const extra = job.optionsFor ? await job.optionsFor(x, w.item) : {};
    // fixed chunks: batches (so sums, to the last bit) do not depend on the machine's load
    const opts = { ...job.options, ...extra, target: w.target, fixedChunks: true, ...(job.signal ? { signal: job.signal } : {}) };
    const attr = await job.method.attribute(x, opts);
    try {
      const target = w.target === 'auto' ? (attr.diagnostics.targets?.[0] ?? null) : w.target;
      const values = attr.values;
      const flat = (await values.data()) as Float32Array;
      const metrics: Record<string, number> = {};
      const featureMask = (extra['featureMask'] ?? job.options['featureMask' as keyof typeof job.options]) as MetricContext['featureMask'];
      for (const m of job.metrics) {
        if (target === null) break;
        metrics[m] = await scoreMetric(m, job.model, x, values, {
          ...job.metricOptions,
          method: job.method.id,
          target,
          batchSize: job.options.batchSize ?? 128,
          ...(job.options.baselines !== undefined ? { baselines: job.options.baselines } : {}),
          ...(featureMask !== undefined ? { featureMask } : {}),
          ...(job.signal ? { signal: job.signal } : {}),
        });
      }
      const top = topFeatures(flat, TOP_FEATURES);
      return {
        item: w.key,
        inputId: w.item.id,
        seq: w.seq,
        method: job.method.id,
        target,
        score: target === null ? null : await scoreAt(job.model, x, target),
        status: 'ok',
        metrics,
        topFeatures: top,
        topValues: top.map((i) => flat[i]!),
        elapsedMs: performance.now() - start,
        attribution: { dtype: 'float32', shape: values.shape, data: Float32Array.from(flat) },
      };
    } finally {
      attr.dispose();
    }
  } finally {
    x.dispose();
  }
}

function errorRow(job: Job, w: WorkItem, e: AttributionError, start: number): ResultRow {
  return {
    item: w.key,
    inputId: w.item.id,
    seq: w.seq,
    method: job.method.id,
    target: w.target === 'auto' ? null : w.target,
    score: null,
    status: 'error',
    error: `${e.code}: ${e.message}`,
    metrics: {},
    topFeatures: [],
    topValues: [],
    elapsedMs: performance.now() - start,
  };
}

/** The model's output at flat index `target` of its one output row. */
async function scoreAt(model: ModelAdapter, x: tf.Tensor, target: number): Promise<number | null> {
  const out = await model.forward(x, { rows: [0] });
  try {
    const d = await out.data();
    return target < d.length ? d[target]! : null;
  } finally {
    out.dispose();
  }
}

/** Indices of the `k` largest |values|, largest first (ties: lower index first). */
export function topFeatures(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!) || a - b);
  return idx.slice(0, k);
}
