import * as tf from '@tensorflow/tfjs-core';
import { findMethod, METHODS, type MethodDescriptor } from '../../core/registry.js';
import type { Vocabulary } from '../../io/vocab.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import { loadModel } from '../../io/load-model.js';
import { engineFor } from '../backend.js';
import type { ModelAdapter } from '../../models/model.js';
import { kebab, parseFlags, type FlagSpec, type FlagValue } from '../args.js';
import { checkFeatureMaskSpec, checkNamedInputs, featureMaskFlag, parseBaseline, parseTarget, readInput, readNamedInputs, readTextLines, readVocabulary, textInput, type LoadedInput } from '../inputs.js';
import { checkOut, resultJson, writeResult } from '../outputs.js';
import { ProgressBar } from '../progress.js';
import { MAX_IMAGE_PIXELS } from '../../io/image.js';
import { MAX_ROWS_PER_CALL } from '../../core/budget.js';
import { assertStepsWithinCap, MAX_STEPS, type QuadratureRule } from '../../core/quadrature.js';

export const EXPLAIN_FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', help: 'model.json (TF.js layers/graph), .onnx, or a directory holding one' },
  { name: 'input', type: 'string', help: 'input batch: .json, .npy, .png, .jpg, or .txt (one text per line, with --vocab)' },
  { name: 'text', type: 'string', help: 'a text to explain (token-id models, with --vocab)' },
  { name: 'vocab', type: 'string', help: 'vocabulary of a token-id model: one token per line, or JSON {token: id}' },
  { name: 'method', type: 'string', help: 'method id (attrib methods); default integrated-gradients, or layer-integrated-gradients for token-id models' },
  { name: 'layer', type: 'string', help: 'layer (hook name) of layer, neuron and CAM methods' },
  { name: 'target', type: 'string', help: 'output index, one per row (comma-separated), or auto', default: 'auto' },
  { name: 'baseline', type: 'string', help: 'zeros, a number, blur:σ, noise:σ, or a tensor file', default: 'zeros' },
  { name: 'inputs', type: 'string', help: "the model's other inputs, held fixed: name=FILE[,name=FILE…] (.json/.npy, one row per input row)" },
  { name: 'out', type: 'string', help: 'FILE.json, or a directory for JSON + .npy + PNG + report.html' },
  { name: 'backend', type: 'string', help: 'TF.js backend: wasm or cpu', default: 'wasm' },
  { name: 'engine', type: 'string', help: 'runtime of a model.json: tfjs (default), onnx (exported to ONNX Runtime) or auto' },
  { name: 'batch-size', type: 'int', help: 'max rows per model call', default: 128, min: 1, max: MAX_ROWS_PER_CALL },
  { name: 'max-evaluations', type: 'int', help: 'budget in model rows', min: 1 },
  { name: 'max-pixels', type: 'int', help: 'largest image input decoded, in pixels (read from the header first)', default: MAX_IMAGE_PIXELS, min: 1 },
  { name: 'quiet', type: 'bool', help: 'no progress bar' },
];

/**
 * Flags of a method's options, from the registry. Counts (integer options other than `seed`) are
 * checked here, before the model loads: at least 1, `steps` at most `MAX_STEPS`, others at most
 * `MAX_ROWS_PER_CALL`; enum options take only their listed values.
 */
export function methodFlags(d: MethodDescriptor): FlagSpec[] {
  return d.options.map((o) => ({
    name: kebab(o.name),
    type: o.type === 'mask' || o.type === 'enum' || o.type === 'method' ? 'string' : o.type,
    help: o.help,
    ...(o.default !== undefined && typeof o.default !== 'object' ? { default: o.default } : {}),
    ...(o.type === 'enum' && o.values ? { values: o.values } : {}),
    ...(o.type === 'int' && o.name !== 'seed' ? { min: 1, max: o.name === 'steps' ? MAX_STEPS : MAX_ROWS_PER_CALL } : {}),
  }));
}

export interface ExplainRun {
  readonly stdout: string;
  readonly files: readonly string[];
}

/** `attrib explain`: one model, one input batch, one method. */
export async function explainCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<ExplainRun> {
  const explicit = typeof raw.get('method') === 'string' ? (raw.get('method') as string) : undefined;
  let descriptor = findMethod(explicit ?? 'integrated-gradients');
  const innerId = raw.get('inner');
  const inner = typeof innerId === 'string' ? findMethod(innerId) : undefined;
  const parse = (d: MethodDescriptor) => parseFlags(raw, [...EXPLAIN_FLAGS, ...methodFlags(d), ...(inner ? methodFlags(inner).filter((f) => !d.options.some((o) => kebab(o.name) === f.name)) : [])], 'explain');
  let flags = parse(descriptor);
  const modelPath = flags.get('model');
  if (typeof modelPath !== 'string') throw new InvalidArgumentError(`'attrib explain' needs --model`, { arg: 'model' });
  // everything that can be checked without the model is checked before it loads
  if (flags.has('text') && flags.has('input')) {
    throw new InvalidArgumentError(`'attrib explain' takes --input FILE or --text TEXT, not both`, { arg: 'text', conflictsWith: 'input' });
  }
  if (!flags.has('text') && !flags.has('input')) throw new InvalidArgumentError(`'attrib explain' needs --input FILE (or --text with --vocab)`, { arg: 'input' });
  const out = flags.get('out');
  if (typeof out === 'string') await checkOut(out);
  const maskSpec = flags.get('feature-mask');
  if (typeof maskSpec === 'string') checkFeatureMaskSpec(maskSpec);
  checkSteps(flags, descriptor);
  const engine = engineFor(flags.get('engine'), [descriptor]);
  const model = await loadModel(modelPath, engine);
  let input: LoadedInput & { vocab?: Vocabulary };
  try {
    // token-id models are explained in embedding space unless a method is named
    if (explicit === undefined && (model as { embeddingOfInput?: string }).embeddingOfInput !== undefined) {
      descriptor = findMethod('layer-integrated-gradients');
      flags = parse(descriptor);
    }
    const d = descriptor;
    if (flags.has('layer') && d.layer === undefined) {
      throw new InvalidArgumentError(`Method '${d.id}' takes no --layer (layer methods: ${layerMethods()})`, { arg: 'layer', method: d.id });
    }
    const extra = flags.get('inputs');
    if (typeof extra === 'string') checkNamedInputs(extra, model);
    input = await loadInput(flags, model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const quiet = flags.get('quiet') === true;
  for (const w of input.warnings ?? []) process.stderr.write(`${w}\n`);
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
    // token ids: the reference input is all-PAD, whatever id the vocabulary gives PAD
    else if (input.vocab && input.vocab.pad !== 0 && (flags.get('baseline') ?? 'zeros') === 'zeros') opts['baselines'] = input.vocab.pad;
    const extra = flags.get('inputs');
    if (typeof extra === 'string') opts['inputs'] = extras = await readNamedInputs(extra);
    if (flags.has('batch-size')) opts['batchSize'] = flags.get('batch-size');
    if (flags.has('max-evaluations')) opts['maxEvaluations'] = flags.get('max-evaluations');
    for (const o of [...descriptor.options, ...(inner?.options ?? [])]) {
      const v = flags.get(kebab(o.name));
      if (v === undefined || o.type === 'method') continue;
      opts[o.name] = o.type === 'mask' ? await featureMaskFlag(v as string, input) : v;
    }
    const bar = new ProgressBar(descriptor.title, !quiet);
    opts['onProgress'] = bar.update;
    const layer = flags.get('layer');
    const method = descriptor.create(model, { ...(inner ? { inner: inner.id as MethodId } : {}), ...(typeof layer === 'string' ? { layer } : {}), options: opts });
    const attr = await method.attribute(x, opts as unknown as AttributeOptions);
    bar.done();
    try {
      if (typeof out === 'string') {
        const files = await writeResult(out, attr, input.images, input.tokens ?? (await tokenLabels(model, x, input.vocab)));
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

/** `--steps` against the cap of the method's quadrature rule (`--rule`, else the rule's default), before the model loads. */
function checkSteps(flags: Map<string, FlagValue>, d: MethodDescriptor): void {
  const steps = flags.get('steps');
  const ruleOption = d.options.find((o) => o.name === 'rule');
  if (typeof steps !== 'number' || !ruleOption) return;
  const rule = (flags.get('rule') ?? ruleOption.default ?? 'gauss-legendre') as QuadratureRule;
  assertStepsWithinCap(steps, rule, `attrib explain --method ${d.id}`);
}


/** Token labels for models that take token ids: the vocabulary's tokens, else `#id`; PAD shown as ·. */
async function tokenLabels(model: ModelAdapter, x: tf.Tensor, vocab?: Vocabulary): Promise<string[][] | undefined> {
  if (!(model as { embeddingOfInput?: string }).embeddingOfInput || x.rank !== 2) return undefined;
  const ids = (await x.array()) as number[][];
  const pad = vocab?.pad ?? 0;
  return ids.map((row) => row.map((id) => (id === pad ? '·' : (vocab?.tokens[id] ?? `#${id}`))));
}

const layerMethods = (): string =>
  METHODS.filter((m) => m.layer !== undefined)
    .map((m) => m.id)
    .join(', ');

/** The input batch: --text or a .txt file (with --vocab) for token-id models, else a tensor or image file. */
async function loadInput(flags: Map<string, FlagValue>, model: ModelAdapter): Promise<LoadedInput & { vocab?: Vocabulary }> {
  const vocabPath = flags.get('vocab');
  const vocab = typeof vocabPath === 'string' ? await readVocabulary(vocabPath) : undefined;
  const text = flags.get('text');
  const file = flags.get('input');
  if (typeof text === 'string' || (typeof file === 'string' && file.toLowerCase().endsWith('.txt'))) {
    if (!vocab) throw new InvalidArgumentError(`Text input needs the model's vocabulary: --vocab FILE (one token per line, or JSON {token: id})`, { arg: 'vocab' });
    const texts = typeof text === 'string' ? [text] : await readTextLines(file as string);
    return { ...textInput(texts, vocab, model, typeof text === 'string' ? '--text' : `'${file as string}'`), vocab };
  }
  if (typeof file !== 'string') throw new InvalidArgumentError(`'attrib explain' needs --input FILE (or --text with --vocab)`, { arg: 'input' });
  const input = await readInput(file, model, { maxPixels: flags.get('max-pixels') as number | undefined });
  return vocab ? { ...input, vocab } : input;
}
