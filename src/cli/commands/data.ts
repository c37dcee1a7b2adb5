// `attrib data`: training-data attribution (influence functions, TRAK, TracIn, gradient similarity)
// of an ONNX model's test predictions to its training examples.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CapabilityError, FileFormatError, InvalidArgumentError } from '../../core/errors.js';
import type { DataAttribution } from '../../core/result.js';
import { GradientSimilarity } from '../../data/grad-similarity.js';
import { InfluenceFunctions, type HessianSolver } from '../../data/influence.js';
import { Magic } from '../../data/magic.js';
import type { Examples, LossName } from '../../data/loss.js';
import { asRows, pairedRows, type TrainingSet } from '../../data/rows.js';
import { OnnxTrainingModel } from '../../data/onnx/training-model.js';
import type { ProjectionKind } from '../../data/projection.js';
import { TracIn } from '../../data/tracin.js';
import { Trak } from '../../data/trak.js';
import { encodeNpy } from '../../io/npy.js';
import { NpyRowReader } from '../../io/npy-rows.js';
import { loadModel as loadTfjsModel } from '../../io/load-model.js';
import { exportLayersModel } from '../../models/onnx/export/from-layers.js';
import { LayersModelAdapter } from '../../models/tfjs/layers-model.js';
import { parseFlags, type FlagSpec, type FlagValue } from '../args.js';
import { readTensorFile } from '../inputs.js';
import { checkOut, writeAtomically, writeFileAtomically } from '../outputs.js';
import { ProgressBar } from '../progress.js';
import { dataReportHtml, topScores } from './data-report.js';

/** Largest .onnx file read (protobuf's message limit). */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

export const DATA_METHODS = ['influence', 'trak', 'tracin', 'grad-dot', 'grad-cos', 'magic'] as const;

/** Flags of `attrib data` (issue 16, part 6). */
export const DATA_FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', help: 'the trained model: .onnx, or a TF.js layers model.json (exported to ONNX); its Dense/Gemm/MatMul weights and biases are θ' },
  { name: 'train-x', type: 'string', help: 'training inputs [n, …]: .npy (streamed: a batch of rows read at a time) or tensor JSON (read whole)' },
  { name: 'train-y', type: 'string', help: 'training targets: class ids [n] (int) for cross-entropy, values [n, outputs] for mse' },
  { name: 'test-x', type: 'string', help: 'test inputs [m, …] (read whole: test sets are held in memory)' },
  { name: 'test-y', type: 'string', help: 'test targets' },
  { name: 'loss', type: 'string', values: ['cross-entropy', 'mse'], default: 'cross-entropy', help: 'the per-example training loss ℓ' },
  { name: 'method', type: 'string', values: DATA_METHODS, default: 'influence', help: 'attribution method' },
  { name: 'l2', type: 'number', min: 0, default: 0, help: 'λ of the training objective mean ℓ + (λ/2)‖θ‖² (influence); the ridge of TRAK’s kernel ΦᵀΦ + nλI' },
  { name: 'hessian', type: 'string', values: ['exact', 'cg', 'lissa', 'kfac', 'ekfac'], default: 'exact', help: 'influence: how H⁻¹ is applied (exact: small models; cg: Hessian-vector products; lissa: their Neumann series; kfac/ekfac: Kronecker-factored Gauss–Newton per layer)' },
  { name: 'damping', type: 'number', min: 0, default: 0, help: 'influence: added to the Hessian’s diagonal' },
  { name: 'projection-dim', type: 'int', min: 1, help: 'project gradients to K dimensions (TRAK, TracIn, grad-*); default none' },
  { name: 'projection', type: 'string', values: ['rademacher', 'gaussian', 'kronecker'], default: 'rademacher', help: 'dense JL entries, or kronecker: LoGra per-layer factors, --projection-dim per side of each layer' },
  { name: 'checkpoints', type: 'string', help: 'a.onnx,b.onnx: TracIn’s checkpoints / TRAK’s ensemble (default: --model alone)' },
  { name: 'learning-rates', type: 'number-list', help: 'TracIn: η of each checkpoint (default 1 each)' },
  { name: 'train-steps', type: 'int', min: 1, help: 'magic: full-batch gradient steps T of attrib’s trainer (the model’s weights are θ_0)' },
  { name: 'learning-rate', type: 'number', min: 0, help: 'magic: the trainer’s step size η' },
  { name: 'seed', type: 'int', min: 0, default: 0, help: 'seed of the random projections' },
  { name: 'top', type: 'int', min: 1, max: 1000, default: 5, help: 'proponents and opponents per test example in result.json' },
  { name: 'batch-size', type: 'int', min: 1, help: 'examples per gradient batch (default: fits --batch-mib of gradients)' },
  { name: 'batch-mib', type: 'number', min: 0.001, help: 'memory budget of one batch of the training set (its gradients, inputs and targets as doubles), MiB (default: 32 MiB of gradients): the training set is streamed in such batches' },
  { name: 'out', type: 'string', help: 'scores.npy (float32 [n_test, n_train]) or a folder (adds result.json and report.html)' },
  { name: 'quiet', type: 'bool', help: 'no progress bar' },
];

const need = (flags: ReadonlyMap<string, FlagValue>, name: string): string => {
  const v = flags.get(name);
  if (typeof v !== 'string') throw new InvalidArgumentError(`'attrib data' needs --${name}`, { arg: name, command: 'data' });
  return v;
};

async function readExamples(xFile: string, yFile: string, which: string): Promise<Examples> {
  const [x, y] = await Promise.all([readTensorFile(xFile, `${which} inputs`), readTensorFile(yFile, `${which} targets`)]);
  return { x, y };
}

/**
 * The training set: two .npy files become a row source read a block of rows at a time (never whole);
 * tensor JSON cannot be read in parts and is read whole. `close` releases the files.
 */
async function openTrainingSet(xFile: string, yFile: string): Promise<{ set: TrainingSet; close: () => Promise<void> }> {
  const npy = (f: string) => f.toLowerCase().endsWith('.npy');
  if (!npy(xFile) || !npy(yFile)) return { set: await readExamples(xFile, yFile, 'training'), close: async () => undefined };
  const x = await NpyRowReader.open(xFile, `training inputs '${xFile}'`);
  const y = await NpyRowReader.open(yFile, `training targets '${yFile}'`).catch(async (e: unknown) => {
    await x.close();
    throw e;
  });
  return { set: pairedRows(x, y), close: async () => void (await Promise.all([x.close(), y.close()])) };
}

/** The training rows `wanted` (ids, no repeats) read from `set` as examples, and where row j is among them. */
async function selectRows(set: TrainingSet, wanted: readonly number[]): Promise<{ rows: Examples; at: (j: number) => number }> {
  const source = asRows(set);
  const blocks = await Promise.all(wanted.map((j) => source.read(j, j + 1)));
  const join = (part: 'x' | 'y') => {
    const out = new Float64Array(blocks.reduce((a, b) => a + b[part].length, 0));
    blocks.reduce((at, b) => (out.set(b[part], at), at + b[part].length), 0);
    return out;
  };
  const index = new Map(wanted.map((j, k) => [j, k]));
  return { rows: { x: { shape: [wanted.length, ...source.xShape], data: join('x') }, y: { shape: [wanted.length, ...source.yShape], data: join('y') } }, at: (j) => index.get(j)! };
}

/**
 * An .onnx file, or a TF.js layers model.json exported to ONNX (attrib's exporter). For cross-entropy,
 * a final Softmax is left out: the loss is taken on the logits.
 */
async function loadModel(file: string, loss: LossName): Promise<OnnxTrainingModel> {
  let bytes: Uint8Array;
  if (file.toLowerCase().endsWith('.json')) {
    const adapter = await loadTfjsModel(file, { engine: 'tfjs' });
    try {
      if (!(adapter instanceof LayersModelAdapter)) throw new CapabilityError(`'attrib data' needs a TF.js layers model; '${file}' is not one (graph models have no trainable weights to attribute to)`, { model: file });
      bytes = exportLayersModel(adapter);
    } finally {
      adapter.dispose();
    }
  } else {
    const size = (await fs.stat(file).catch(() => undefined))?.size ?? 0;
    // protobuf caps a message at 2 GiB; a larger file is no ONNX model ORT can open
    if (size > MAX_ONNX_BYTES) throw new FileFormatError(`Model '${file}' is ${size} bytes; an .onnx file holds at most ${MAX_ONNX_BYTES}`, { file, size, max: MAX_ONNX_BYTES });
    try {
      bytes = new Uint8Array(await fs.readFile(file));
    } catch (e) {
      throw new InvalidArgumentError(`Cannot read the model '${file}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { arg: 'model', file }, e);
    }
  }
  return OnnxTrainingModel.load(bytes, { stripSoftmax: loss === 'cross-entropy' });
}

/** Runs `attrib data`; returns the summary line and the files written. */
export async function dataCommand(raw: Map<string, string | true>, signal?: AbortSignal): Promise<{ stdout: string; files: string[] }> {
  const flags = parseFlags(raw, DATA_FLAGS, 'data');
  for (const f of DATA_FLAGS) if (f.default !== undefined && !flags.has(f.name)) flags.set(f.name, f.default);
  const method = flags.get('method') as (typeof DATA_METHODS)[number];
  const hessian = flags.get('hessian') as HessianSolver;
  if (method === 'magic' && (!flags.has('train-steps') || !flags.has('learning-rate'))) {
    throw new InvalidArgumentError("--method magic trains the model (its weights are the initialisation) with attrib's full-batch trainer: give --train-steps T and --learning-rate η (and --l2 λ)", { arg: 'train-steps' });
  }
  const out = need(flags, 'out');
  const modelFile = need(flags, 'model');
  const toNpy = out.toLowerCase().endsWith('.npy');
  if (!toNpy) await checkOut(out);
  const training = await openTrainingSet(need(flags, 'train-x'), need(flags, 'train-y'));
  const train = training.set;
  try {
    const test = await readExamples(need(flags, 'test-x'), need(flags, 'test-y'), 'test');
    const checkpointFiles = typeof flags.get('checkpoints') === 'string' ? (flags.get('checkpoints') as string).split(',').filter(Boolean) : [];
    if (checkpointFiles.length > 0 && method !== 'tracin' && method !== 'trak') throw new InvalidArgumentError(`--checkpoints applies to tracin and trak, not ${method}`, { arg: 'checkpoints' });
    const loss = flags.get('loss') as LossName;
    const l2 = flags.get('l2') as number;
    const seed = flags.get('seed') as number;
    const projectionDim = flags.get('projection-dim') as number | undefined;
    const projection = flags.get('projection') as ProjectionKind;
    const batchSize = flags.get('batch-size') as number | undefined;
    const batchMib = flags.get('batch-mib') as number | undefined;
    const bar = new ProgressBar(`data ${method}`, flags.get('quiet') !== true);
    const control = { loss, seed, onProgress: bar.update, ...(signal ? { signal } : {}), ...(batchSize ? { batchSize } : {}), ...(batchMib ? { batchBytes: batchMib * 2 ** 20 } : {}) };
    const proj = projectionDim === undefined ? {} : { projectionDim, projection };
    const models = [await loadModel(modelFile, loss)];
    let result: DataAttribution | undefined;
    try {
      // one at a time, so that every session opened is released even when a later file fails
      for (const c of checkpointFiles) models.push(await loadModel(c, loss));
      const ensemble = checkpointFiles.length > 0 ? models.slice(1) : models;
      switch (method) {
        case 'influence':
          result = await new InfluenceFunctions(models[0]!, { l2, hessian, damping: flags.get('damping') as number }).attribute(train, test, control);
          break;
        case 'trak':
          result = await new Trak(ensemble, { l2, ...proj }).attribute(train, test, control);
          break;
        case 'magic':
          result = await new Magic(models[0]!, { l2, steps: flags.get('train-steps') as number, learningRate: flags.get('learning-rate') as number }).attribute(train, test, control);
          break;
        case 'tracin': {
          const rates = flags.get('learning-rates') as number[] | undefined;
          result = await new TracIn(ensemble, { ...proj, ...(rates ? { learningRates: rates } : {}) }).attribute(train, test, control);
          break;
        }
        default:
          result = await new GradientSimilarity(models[0]!, method, proj).attribute(train, test, control);
      }
    } finally {
      bar.done();
      for (const m of models) m.dispose();
    }
    try {
      const [m, n] = result.values.shape as [number, number];
      const scores = result.values.dataSync() as Float32Array;
      const npy = encodeNpy({ shape: [m, n], dtype: 'float32', data: scores });
      if (toNpy) {
        await writeFileAtomically(out, npy);
        return { stdout: summary(method, m, n, result), files: [out] };
      }
      const top = flags.get('top') as number;
      const json = {
        method,
        loss,
        l2,
        ...(method === 'influence' ? { hessian } : {}),
        ...(method === 'magic' ? { trainSteps: flags.get('train-steps'), learningRate: flags.get('learning-rate'), note: 'the model was trained from its weights by attrib’s full-batch trainer; scores are for the trained parameters' } : {}),
        ...(projectionDim === undefined ? {} : { projectionDim, projection, seed }),
        shape: [m, n],
        sign: 'score[i, j] > 0: removing training example j is predicted to raise test example i’s loss (j is a proponent)',
        diagnostics: { evaluations: result.diagnostics.evaluations, elapsedMs: Math.round(result.diagnostics.elapsedMs) },
        tests: topScores(scores, m, n, top),
      };
      // the report shows a few training rows: read just those
      const shown = await selectRows(train, [...new Set(json.tests.slice(0, 50).flatMap((t) => [...t.proponents, ...t.opponents].map((r) => r.train)))]);
      const files = new Map<string, Uint8Array | string>([
        ['scores.npy', npy],
        ['result.json', `${JSON.stringify(json, null, 1)}\n`],
        ['report.html', dataReportHtml(method, scores, m, n, top, shown.rows, test, shown.at)],
      ]);
      await writeAtomically(files, out);
      return { stdout: summary(method, m, n, result), files: [...files.keys()].map((f) => path.join(out, f)) };
    } finally {
      result.dispose();
    }
  } finally {
    await training.close();
  }
}

const summary = (method: string, m: number, n: number, r: DataAttribution): string =>
  `attrib data: ${method} scores [${m} test × ${n} train] in ${(r.diagnostics.elapsedMs / 1000).toFixed(2)} s (${r.diagnostics.evaluations} gradient rows)`;
