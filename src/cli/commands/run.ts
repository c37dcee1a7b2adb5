import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { findMethod, type MethodDescriptor } from '../../methods.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { MethodId, Progress } from '../../core/types.js';
import type { FeatureMask } from '../../attr/masks.js';
import { loadModel } from '../../io/load-model.js';
import { inferLayout } from '../../io/preprocess.js';
import type { ModelAdapter } from '../../models/model.js';
import { DatasetReader, listDataset, type Dataset } from '../../jobs/dataset.js';
import { parseJobMetrics } from '../../jobs/metrics.js';
import { runJob, type Job, type JobSummary } from '../../jobs/run-job.js';
import { queueStatus, runQueued } from '../../jobs/queue.js';
import { digest, modelDigest, type JobSettings, type Json } from '../../jobs/settings.js';
import { ResultStore } from '../../jobs/store.js';
import { kebab, parseFlags, type FlagSpec, type FlagValue } from '../args.js';
import { engineFor, setupBackend } from '../backend.js';
import { checkFeatureMaskSpec, featureMaskForInput, imageOptions, imageOptionsFromModel, parseBaseline, readFeatureMask, readInput } from '../inputs.js';
import { ProgressBar } from '../progress.js';
import { EXPLAIN_FLAGS, methodFlags } from './explain.js';

/** Flags `attrib run` shares with `attrib explain`. */
const SHARED = new Set(['model', 'method', 'layer', 'baseline', 'backend', 'engine', 'threads', 'batch-size', 'max-evaluations', 'max-pixels', 'quiet', 'normalize', 'layout', 'resize']);

export const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'inputs', type: 'string', help: 'the dataset: a folder (.npy/.json/.jsonl/.png/.jpg files, recursively), a glob (quote it), or one .npy, .json or .jsonl file' },
  { name: 'out', type: 'string', help: 'the results store: a new or empty folder, or the store of this job to continue it' },
  { name: 'resume', type: 'bool', help: "continue the store's job with its own settings (other flags may be left out; given ones must match)" },
  { name: 'queue', type: 'string', help: 'redis://HOST:PORT: put the work items on this BullMQ queue for `attrib worker`s, and store their results here' },
  { name: 'status', type: 'bool', help: 'with --queue: the progress of the queued jobs (rows stored of each, items waiting, active, failed), from any terminal' },
  { name: 'target', type: 'string', help: 'output indices attributed per input (comma-separated: one result row each), or auto (each input\'s arg-max)', default: 'auto' },
  { name: 'metrics', type: 'string', help: 'comma-separated per-input metrics: deletion, insertion, infidelity, mufidelity, road, sparseness, complexity (none by default)', default: '' },
  { name: 'metric-steps', type: 'int', help: 'points on deletion/insertion curves', default: 20, min: 1, max: 10_000 },
  { name: 'metric-samples', type: 'int', help: 'perturbations for infidelity and mufidelity', default: 10, min: 1, max: 100_000 },
  ...EXPLAIN_FLAGS.filter((f) => SHARED.has(f.name)),
];

/** Flags of the command, not of the job (the store, resuming, the queue). */
const NOT_JOB = new Set(['out', 'resume', 'queue', 'status']);
/** Flags that do not change the results, or have their own field in the settings. */
const NOT_SETTINGS = new Set([...NOT_JOB, 'quiet', 'threads', 'model', 'inputs', 'method', 'target', 'metrics']);

/** A job ready to run: the model loaded, the dataset listed, the method configured; `dispose()` frees them. */
export interface PreparedRun {
  readonly job: Job;
  readonly settings: JobSettings;
  /** The flags it was made from (for workers: the queue carries them). */
  readonly argv: readonly (readonly [string, string | true])[];
  readonly label: string;
  readonly quiet: boolean;
  dispose(): void;
}

/**
 * The job of `attrib run` flags (`--out`, `--resume`, `--queue`, `--status` aside): checks every flag
 * before the model loads (the same option parsing as `attrib explain`), sets up the TF.js backend,
 * loads the model, lists the dataset and configures the method.
 */
export async function prepareRun(raw: ReadonlyMap<string, string | true>, signal?: AbortSignal): Promise<PreparedRun> {
  const argv = [...raw].filter(([k]) => !NOT_JOB.has(k));
  const given = new Map(argv);
  const explicit = given.get('method');
  if (typeof explicit !== 'string') throw new InvalidArgumentError(`'attrib run' needs --method ID (attrib methods lists them)`, { arg: 'method' });
  const descriptor = findMethod(explicit);
  const innerId = given.get('inner');
  const inner = typeof innerId === 'string' ? findMethod(innerId) : undefined;
  const specs = [...RUN_FLAGS, ...methodFlags(descriptor), ...(inner ? methodFlags(inner).filter((f) => !descriptor.options.some((o) => kebab(o.name) === f.name)) : [])];
  const flags = withDefaults(parseFlags(given, specs, 'run'), specs);
  const need = (name: string): string => {
    const v = flags.get(name);
    if (typeof v !== 'string') throw new InvalidArgumentError(`'attrib run' needs --${name}`, { arg: name });
    return v;
  };
  const modelPath = need('model');
  const inputs = need('inputs');
  const targets = parseTargets(String(flags.get('target')));
  const metrics = parseJobMetrics(String(flags.get('metrics') ?? ''));
  const mask = descriptor.options.find((o) => o.type === 'mask');
  const maskSpec = mask ? flags.get(kebab(mask.name)) : undefined;
  if (typeof maskSpec === 'string') checkFeatureMaskSpec(maskSpec);
  if (flags.has('layer') && descriptor.layer === undefined) throw new InvalidArgumentError(`Method '${descriptor.id}' takes no --layer`, { arg: 'layer', method: descriptor.id });
  const quiet = flags.get('quiet') === true;
  await setupBackend(String(flags.get('backend')), quiet);
  const model = await loadModel(modelPath, engineFor(flags.get('engine'), [descriptor, ...(inner ? [inner] : [])], flags.get('threads')));
  let baseline: Awaited<ReturnType<typeof parseBaseline>>;
  const dispose = () => {
    if (baseline instanceof tf.Tensor) baseline.dispose();
    model.dispose();
  };
  try {
    const dataset = await listDataset(inputs, model.inputShape.length);
    const settings = await jobSettings(flags, modelPath, dataset, descriptor.id, targets, metrics);
    baseline = await parseBaseline(flags.get('baseline') as string | undefined);
    const opts: Record<string, unknown> = { batchSize: flags.get('batch-size'), ...(baseline !== undefined ? { baselines: baseline } : {}) };
    if (flags.has('max-evaluations')) opts['maxEvaluations'] = flags.get('max-evaluations');
    for (const o of [...descriptor.options, ...(inner?.options ?? [])]) {
      const v = flags.get(kebab(o.name));
      if (v !== undefined && o.type !== 'method' && o.type !== 'mask') opts[o.name] = v;
    }
    const layer = flags.get('layer');
    const method = descriptor.create(model, { ...(inner ? { inner: inner.id as MethodId } : {}), ...(typeof layer === 'string' ? { layer } : {}), options: opts });
    // what the user left out and the model's metadata says: normalisation, layout
    const imageOpts = imageOptionsFromModel(model, imageOptions(flags)).options;
    const maxPixels = flags.get('max-pixels') as number | undefined;
    const job: Job = {
      model,
      dataset,
      reader: new DatasetReader(async (file) => {
        const input = await readInput(file, model, { ...imageOpts, maxPixels });
        try {
          return { dtype: 'float32', shape: input.x.shape, data: (await input.x.data()) as Float32Array };
        } finally {
          input.x.dispose();
        }
      }),
      method,
      options: opts,
      ...(typeof maskSpec === 'string' && mask ? { optionsFor: await maskOption(maskSpec, mask.name, model, imageOpts.layout) } : {}),
      targets,
      metrics,
      metricOptions: { steps: Number(flags.get('metric-steps')), samples: Number(flags.get('metric-samples')), seed: Number(flags.get('seed') ?? 0) },
      ...(signal ? { signal } : {}),
    };
    return { job, settings, argv, label: `run ${descriptor.id}`, quiet, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/**
 * `attrib run`: one method over a whole dataset into a results store; killed and run again (or with
 * `--resume`), it computes only what the store lacks. With `--queue redis://…` the items go to
 * workers (`attrib worker`) and this process only stores their results; `--status` prints the
 * progress of a queued job.
 */
export async function runCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<{ summary?: JobSummary; store?: string; stdout?: string }> {
  const queue = raw.get('queue');
  if (raw.get('status') === true) {
    if (typeof queue !== 'string') throw new InvalidArgumentError(`'attrib run --status' needs --queue redis://HOST:PORT`, { arg: 'queue' });
    return { stdout: await queueStatus(queue) };
  }
  const out = raw.get('out');
  if (typeof out !== 'string') throw new InvalidArgumentError(`'attrib run' needs --out STORE (a folder for the results store)`, { arg: 'out' });
  if (raw.get('resume') === true) raw = await withStoredFlags(raw, out);
  const run = await prepareRun(raw, signal);
  try {
    const store = await ResultStore.open(out, run.settings);
    try {
      const bar = new ProgressBar(run.label, !run.quiet);
      const onProgress = (p: Progress) => bar.update({ ...p, phase: run.label });
      const summary = typeof queue === 'string' ? await runQueued({ ...run.job, store, onProgress }, queue, run.argv, path.resolve(out)) : await runJob({ ...run.job, store, onProgress });
      bar.done();
      return { summary, store: out };
    } finally {
      store.close();
    }
  } finally {
    run.dispose();
  }
}

/** `--target auto|N[,N…]`: the targets attributed for every input. */
function parseTargets(value: string): (number | 'auto')[] {
  const parts = [...new Set(value.split(',').map((p) => p.trim()))];
  return parts.map((p) => {
    if (p === 'auto') return 'auto';
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`Option '--target' of 'attrib run' must be auto or non-negative integers (comma-separated), got '${value}'`, { arg: 'target', value });
    return n;
  });
}

/** The flags with every declared default filled in, so that a flag left at its default equals one given as it. */
function withDefaults(flags: Map<string, FlagValue>, specs: readonly FlagSpec[]): Map<string, FlagValue> {
  for (const s of specs) if (!flags.has(s.name) && s.default !== undefined) flags.set(s.name, s.default);
  return flags;
}

/** The job's settings: the model's and the dataset's fingerprints, and every flag that changes results. */
async function jobSettings(flags: ReadonlyMap<string, FlagValue>, model: string, dataset: Dataset, method: string, targets: readonly (number | 'auto')[], metrics: readonly string[]): Promise<JobSettings> {
  const options: Record<string, Json> = {};
  for (const [k, v] of [...flags].sort(([a], [b]) => a.localeCompare(b))) if (!NOT_SETTINGS.has(k)) options[k] = v;
  return {
    model,
    modelDigest: await modelDigest(model),
    inputs: dataset.spec,
    inputCount: dataset.items.length,
    inputsDigest: digest(dataset.items.map((i) => i.id).join('\n')),
    method,
    metrics,
    targets,
    options,
  };
}

/** `--resume`: the store's own settings as flags, under the flags given (which must then match). */
async function withStoredFlags(raw: Map<string, string | true>, out: string): Promise<Map<string, string | true>> {
  const store = await ResultStore.read(out);
  const s = store.settings;
  store.close();
  const stored = new Map<string, string | true>([
    ['model', s.model],
    ['inputs', s.inputs],
    ['method', s.method],
    ['target', s.targets.join(',')],
    ['metrics', s.metrics.join(',')],
  ]);
  for (const [k, v] of Object.entries(s.options)) {
    if (v === true) stored.set(k, true);
    else if (v === false) stored.set(`no-${k}`, true);
    else if (Array.isArray(v)) stored.set(k, v.join(','));
    else if (v !== null) stored.set(k, String(v));
  }
  for (const [k, v] of raw) if (k !== 'resume') stored.set(k, v);
  return stored;
}

/** A feature-mask option: a mask file read once, or a segmentation (slic, grid) computed per input. */
async function maskOption(spec: string, name: string, model: ModelAdapter, layout: 'nhwc' | 'nchw' | undefined): Promise<(x: tf.Tensor, item: { id: string }) => Promise<Record<string, unknown>>> {
  if (!/^(slic|grid)\b/.test(spec)) {
    const fixed: FeatureMask = await readFeatureMask(spec);
    return async () => ({ [name]: fixed });
  }
  const lay = layout ?? inferLayout(model.inputShape);
  return async (x, item) => ({ [name]: await featureMaskForInput(spec, { x, source: item.id, ...(lay ? { layout: lay } : {}) }) });
}
