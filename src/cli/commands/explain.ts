import * as tf from '@tensorflow/tfjs-core';
import { findMethod, type MethodDescriptor } from '../../core/registry.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import { loadModel } from '../../io/load-model.js';
import type { ModelAdapter } from '../../models/model.js';
import { kebab, parseFlags, type FlagSpec, type FlagValue } from '../args.js';
import { parseBaseline, parseTarget, readFeatureMask, readInput, readNamedInputs } from '../inputs.js';
import { resultJson, writeResult } from '../outputs.js';
import { ProgressBar } from '../progress.js';

export const EXPLAIN_FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', help: 'model.json (TF.js layers/graph), .onnx, or a directory holding one' },
  { name: 'input', type: 'string', help: 'input batch: .json, .npy, .png, .jpg' },
  { name: 'method', type: 'string', help: 'method id (attrib methods)', default: 'integrated-gradients' },
  { name: 'target', type: 'string', help: 'output index, one per row (comma-separated), or auto', default: 'auto' },
  { name: 'baseline', type: 'string', help: 'zeros, a number, or a tensor file', default: 'zeros' },
  { name: 'inputs', type: 'string', help: "the model's other inputs, held fixed: name=FILE[,name=FILE…] (.json/.npy, one row per input row)" },
  { name: 'out', type: 'string', help: 'FILE.json, or a directory for JSON + .npy + PNG + report.html' },
  { name: 'backend', type: 'string', help: 'TF.js backend: wasm or cpu', default: 'wasm' },
  { name: 'batch-size', type: 'int', help: 'max rows per model call', default: 128 },
  { name: 'max-evaluations', type: 'int', help: 'budget in model rows' },
  { name: 'quiet', type: 'bool', help: 'no progress bar' },
];

/** Flags of a method's options, from the registry. */
export function methodFlags(d: MethodDescriptor): FlagSpec[] {
  return d.options.map((o) => ({
    name: kebab(o.name),
    type: o.type === 'mask' || o.type === 'enum' || o.type === 'method' ? 'string' : o.type,
    help: o.help,
    ...(o.default !== undefined && typeof o.default !== 'object' ? { default: o.default } : {}),
  }));
}

export interface ExplainRun {
  readonly stdout: string;
  readonly files: readonly string[];
}

/** `attrib explain`: one model, one input batch, one method. */
export async function explainCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<ExplainRun> {
  const methodId = typeof raw.get('method') === 'string' ? (raw.get('method') as string) : 'integrated-gradients';
  const descriptor = findMethod(methodId);
  const innerId = raw.get('inner');
  const inner = typeof innerId === 'string' ? findMethod(innerId) : undefined;
  const flagSpecs = [...EXPLAIN_FLAGS, ...methodFlags(descriptor), ...(inner ? methodFlags(inner).filter((f) => !descriptor.options.some((o) => kebab(o.name) === f.name)) : [])];
  const flags = parseFlags(raw, flagSpecs, 'explain');
  const need = (name: string): string => {
    const v = flags.get(name);
    if (typeof v !== 'string') throw new InvalidArgumentError(`'attrib explain' needs --${name}`, { arg: name });
    return v;
  };
  const modelPath = need('model');
  const inputPath = need('input');
  const quiet = flags.get('quiet') === true;
  const model = await loadModel(modelPath);
  const input = await readInput(inputPath, model);
  const x = input.x;
  let baseline: Awaited<ReturnType<typeof parseBaseline>>;
  let extras: Record<string, tf.Tensor> | undefined;
  try {
    const opts: Record<string, unknown> = {
      target: parseTarget(flags.get('target') as string | undefined, x.shape[0]!),
      signal,
    };
    baseline = await parseBaseline(flags.get('baseline') as string | undefined);
    if (baseline !== undefined) opts['baselines'] = baseline;
    const extra = flags.get('inputs');
    if (typeof extra === 'string') opts['inputs'] = extras = await readNamedInputs(extra);
    if (flags.has('batch-size')) opts['batchSize'] = flags.get('batch-size');
    if (flags.has('max-evaluations')) opts['maxEvaluations'] = flags.get('max-evaluations');
    for (const o of [...descriptor.options, ...(inner?.options ?? [])]) {
      const v = flags.get(kebab(o.name));
      if (v === undefined || o.type === 'method') continue;
      opts[o.name] = o.type === 'mask' ? await readFeatureMask(v as string) : v;
    }
    const bar = new ProgressBar(descriptor.id, !quiet);
    opts['onProgress'] = bar.update;
    const method = descriptor.create(model, inner?.id as MethodId | undefined);
    const attr = await method.attribute(x, opts as unknown as AttributeOptions);
    bar.done();
    try {
      const out = flags.get('out') as string | undefined;
      if (out) {
        const files = await writeResult(out, attr, input.images, await tokenLabels(model, x));
        return { stdout: '', files };
      }
      return { stdout: JSON.stringify(await resultJson(attr)), files: [] };
    } finally {
      attr.dispose();
    }
  } finally {
    if (baseline instanceof tf.Tensor) baseline.dispose();
    if (extras) tf.dispose(Object.values(extras));
    x.dispose();
    model.dispose();
  }
}

export type { FlagValue };

/** Token labels for models that take token ids (until vocabularies arrive): `#id`, PAD (0) shown as ·. */
async function tokenLabels(model: ModelAdapter, x: tf.Tensor): Promise<string[][] | undefined> {
  if (!(model as { embeddingOfInput?: string }).embeddingOfInput || x.rank !== 2) return undefined;
  const ids = (await x.array()) as number[][];
  return ids.map((row) => row.map((id) => (id === 0 ? '·' : `#${id}`)));
}
