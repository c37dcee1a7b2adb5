import * as tf from '@tensorflow/tfjs-core';
import { findMethod, METHODS, type MethodDescriptor } from '../../methods.js';
import type { Vocabulary } from '../../io/vocab.js';
import { AttributionError, InvalidArgumentError } from '../../core/errors.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import { loadModel } from '../../io/load-model.js';
import { engineFor } from '../backend.js';
import { MODEL_TENSOR_FLAGS, modelTensorOptions } from '../model-flags.js';
import type { ModelAdapter } from '../../models/model.js';
import { kebab, parseFlags, type FlagSpec, type FlagValue } from '../args.js';
import { checkFeatureMaskSpec, checkNamedInputs, featureMaskForInput, IMAGE_FLAGS, imageOptions, imageOptionsFromModel, parseBaseline, parseTarget, readFeatureNames, readInput, readLabels, readNamedInputs, readTextLines, readVocabulary, textInput, type ImageOptions, type LoadedInput } from '../inputs.js';
import { checkOut, resultJson, resizeWords, writeResult, type ResultContext } from '../outputs.js';
import { checkLabels, type ClassLabels } from '../../io/labels.js';
import { modelMetadata } from '../../io/model-metadata.js';
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
  { name: 'engine', type: 'string', help: 'runtime of a model.json: auto (ONNX Runtime when onnxruntime-node is installed and the model exports, else TF.js), onnx or tfjs', default: 'auto' },
  { name: 'threads', type: 'int', help: 'threads ONNX Runtime may use inside one operator (default: its own choice; TF.js runs one)', min: 1, max: 256 },
  ...MODEL_TENSOR_FLAGS,
  { name: 'batch-size', type: 'int', help: 'max rows per model call', default: 128, min: 1, max: MAX_ROWS_PER_CALL },
  { name: 'max-evaluations', type: 'int', help: 'budget in model rows', min: 1 },
  { name: 'max-pixels', type: 'int', help: 'largest image input decoded, in pixels (read from the header first)', default: MAX_IMAGE_PIXELS, min: 1 },
  { name: 'quiet', type: 'bool', help: 'no progress bar' },
  ...IMAGE_FLAGS,
  { name: 'labels', type: 'string', help: 'class labels: one per line, a JSON array, or a JSON object {index: label}' },
  { name: 'feature-names', type: 'string', help: 'names of tabular input features: one per line or a JSON array (as many as the features of a row)' },
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
  const parse = (d: MethodDescriptor) => parseFlags(raw, [...EXPLAIN_FLAGS, ...methodFlagSpecs(d, inner)], 'explain');
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
  let names = await readNames(flags);
  let imageOpts = imageOptions(flags);
  // the wrapped method counts too (noise-tunnel around guided backprop needs TF.js)
  const engine = engineFor(flags.get('engine'), [descriptor, ...(inner ? [inner] : [])], flags.get('threads'));
  const model = await loadModel(modelPath, { ...engine, ...(await modelTensorOptions(flags)) });
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
    // what the user left out and the model's metadata says: normalisation, layout, class labels
    const fromModel = imageOptionsFromModel(model, imageOpts);
    imageOpts = fromModel.options;
    const taken = [...fromModel.taken];
    names = withModelLabels(names, model, taken);
    if (taken.length > 0 && flags.get('quiet') !== true) process.stderr.write(`attrib: note: from the model's metadata: ${taken.join(', ')}\n`);
    input = await loadInput(flags, model, imageOpts);
    checkNames(names, input.x, model);
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
    Object.assign(opts, await methodOptions(flags, [descriptor, ...(inner ? [inner] : [])], input));
    const bar = new ProgressBar(descriptor.title, !quiet);
    opts['onProgress'] = bar.update;
    const layer = flags.get('layer');
    const method = descriptor.create(model, { ...(inner ? { inner: inner.id as MethodId } : {}), ...(typeof layer === 'string' ? { layer } : {}), options: opts });
    const attr = await method.attribute(x, opts as unknown as AttributeOptions);
    bar.done();
    const d = attr.diagnostics;
    if (!quiet && d.engine) process.stderr.write(`attrib: ${attr.method} on ${d.engine === 'onnx' ? 'ONNX Runtime' : 'TF.js'}, ${d.elapsedMs.toFixed(1)} ms${d.compileMs ? ` (compile ${d.compileMs.toFixed(1)} ms)` : ''}\n`);
    try {
      const tokens = input.tokens ?? (await tokenLabels(model, x, input.vocab));
      const ctx = await resultContext(input, names, tokens !== undefined, attr.diagnostics.targets ? await modelOutputs(model, x, Number(flags.get('batch-size') ?? 128), extras) : undefined);
      // labels of a model whose output size was unknown before it ran
      if (names.labels && ctx.outputs) checkLabels(names.labels.labels, ctx.outputs.perRow, names.labels.sparse, `'${names.labels.file}'`);
      const resize = input.preprocessing?.resize;
      if (resize && !quiet) process.stderr.write(`attrib: note: input resized from ${resize.from.width}×${resize.from.height} to ${resize.to.width}×${resize.to.height} (${resizeWords(resize.policy)})\n`);
      if (typeof out === 'string') {
        const files = await writeResult(out, attr, input.images, tokens, ctx);
        return { stdout: '', files };
      }
      return { stdout: JSON.stringify(await resultJson(attr, ctx, tokens)), files: [] };
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

/** The flags of a method's options and, for a wrapper (noise-tunnel), of its inner method's other options. */
export function methodFlagSpecs(d: MethodDescriptor, inner?: MethodDescriptor): FlagSpec[] {
  return [...methodFlags(d), ...(inner ? methodFlags(inner).filter((f) => !d.options.some((o) => kebab(o.name) === f.name)) : [])];
}

/** The library options of the methods' parsed flags; feature masks are read or computed for `input`. */
export async function methodOptions(flags: ReadonlyMap<string, FlagValue>, descriptors: readonly MethodDescriptor[], input: LoadedInput): Promise<Record<string, unknown>> {
  const opts: Record<string, unknown> = {};
  for (const o of descriptors.flatMap((d) => d.options)) {
    const v = flags.get(kebab(o.name));
    if (v === undefined || o.type === 'method') continue;
    opts[o.name] = o.type === 'mask' ? await featureMaskForInput(v as string, input) : v;
  }
  return opts;
}

/** `--steps` against the cap of the method's quadrature rule (`--rule`, else the rule's default), before the model loads. */
export function checkSteps(flags: Map<string, FlagValue>, d: MethodDescriptor): void {
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

/** `--labels` and `--feature-names`, read before any work. */
interface Names {
  readonly labels?: { readonly labels: ClassLabels; readonly sparse: boolean; readonly file: string };
  readonly featureNames?: { readonly names: readonly string[]; readonly file: string };
}

/** Reads `--labels` and `--feature-names` (shared with evaluate). */
export async function readNames(flags: ReadonlyMap<string, FlagValue>): Promise<Names> {
  const labelsFile = flags.get('labels');
  const namesFile = flags.get('feature-names');
  return {
    ...(typeof labelsFile === 'string' ? { labels: { ...(await readLabels(labelsFile)), file: labelsFile } } : {}),
    ...(typeof namesFile === 'string' ? { featureNames: { names: await readFeatureNames(namesFile), file: namesFile } } : {}),
  };
}

/**
 * `--labels` left out: the class labels of the model's metadata (`modelMetadata`), when the model's
 * output size is known and they fit it (metadata is advice: labels that do not fit are not used).
 */
export function withModelLabels(names: Names, model: ModelAdapter, taken: string[]): Names {
  const meta = names.labels ? undefined : modelMetadata(model).labels;
  const outShape = model.outputShape;
  // class scores only: an output [batch, K] with a label for each of the K (a detector's [1, 84, 8400]
  // or a token classifier's [1, seq, K] also carry `names`, but their flat indices are not classes)
  const k = outShape?.length === 2 ? outShape[1] : undefined;
  if (!meta || typeof k !== 'number' || Math.max(...meta.labels.keys()) + 1 !== k) return names;
  try {
    checkLabels(meta.labels, k, meta.sparse, meta.key);
  } catch (e) {
    if (e instanceof AttributionError) return names;
    throw e;
  }
  taken.push(`class labels ('${meta.key}')`);
  return { ...names, labels: { labels: meta.labels, sparse: meta.sparse, file: `the model's metadata ${meta.key}` } };
}

/** Checks the names against the input and the model before any work: one name per feature, labels within the outputs. */
export function checkNames(names: Names, x: tf.Tensor, model: ModelAdapter): void {
  if (names.featureNames) {
    const per = x.size / x.shape[0]!;
    if (names.featureNames.names.length !== per) {
      throw new InvalidArgumentError(`--feature-names '${names.featureNames.file}' has ${names.featureNames.names.length} names but a row of the input has ${per} features`, {
        arg: 'feature-names',
        expected: per,
        actual: names.featureNames.names.length,
      });
    }
  }
  const outShape = model.outputShape;
  if (names.labels && outShape && outShape.slice(1).every((d) => typeof d === 'number')) {
    const perRow = (outShape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    checkLabels(names.labels.labels, perRow, names.labels.sparse, `'${names.labels.file}'`);
  }
}

/** The model's output on `x` ([rows, outputs per row], flattened), in chunks of `batchSize` rows; for the scores beside each target. */
export async function modelOutputs(model: ModelAdapter, x: tf.Tensor, batchSize: number, inputs?: Record<string, tf.Tensor>): Promise<{ data: Float32Array; perRow: number }> {
  const n = x.shape[0]!;
  const parts: Float32Array[] = [];
  let perRow = 0;
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const xs = tf.slice(x, s, e - s);
    let out: tf.Tensor | undefined;
    try {
      out = await model.forward(xs, { rows: Array.from({ length: e - s }, (_, k) => s + k), ...(inputs ? { inputs } : {}) });
      perRow = out.size / (e - s);
      parts.push((await out.data()) as Float32Array);
    } finally {
      xs.dispose();
      out?.dispose();
    }
  }
  const data = new Float32Array(n * perRow);
  parts.forEach((p, k) => data.set(p, k * batchSize * perRow));
  return { data, perRow };
}

/** What the result JSON and the report show beside the attribution. */
async function resultContext(input: LoadedInput, names: Names, tokens: boolean, outputs?: { data: Float32Array; perRow: number }): Promise<ResultContext> {
  const tokenIds = tokens && input.x.rank === 2 ? ((await input.x.array()) as number[][]).map((r) => r.map(Math.round)) : undefined;
  return {
    input: { data: (await input.x.data()) as Float32Array, shape: input.x.shape },
    ...(input.layout ? { layout: input.layout } : {}),
    ...(input.preprocessing ? { preprocessing: input.preprocessing } : {}),
    ...(input.imageNote ? { imageNote: input.imageNote } : {}),
    ...(names.featureNames ? { featureNames: names.featureNames.names } : {}),
    ...(names.labels ? { labels: names.labels.labels } : {}),
    ...(outputs ? { outputs } : {}),
    ...(tokenIds ? { tokenIds } : {}),
  };
}

/** The input batch: --text or a .txt file (with --vocab) for token-id models, else a tensor or image file. */
async function loadInput(flags: Map<string, FlagValue>, model: ModelAdapter, imageOpts: ImageOptions = {}): Promise<LoadedInput & { vocab?: Vocabulary }> {
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
  const input = await readInput(file, model, { ...imageOpts, maxPixels: flags.get('max-pixels') as number | undefined });
  return vocab ? { ...input, vocab } : input;
}
