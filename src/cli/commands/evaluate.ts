import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { findMethod } from '../../methods.js';
import { Budget, MAX_ROWS_PER_CALL } from '../../core/budget.js';
import { InvalidArgumentError, isAttributionError } from '../../core/errors.js';
import { resolveTarget } from '../../models/target.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import { loadModel } from '../../io/load-model.js';
import { MODEL_TENSOR_FLAGS, modelTensorOptions } from '../model-flags.js';
import { deletionCurve, insertionCurve } from '../../metrics/deletion.js';
import { infidelity } from '../../metrics/infidelity.js';
import { sensitivityMax } from '../../metrics/sensitivity.js';
import { groundTruthScores } from '../../metrics/ground-truth.js';
import { muFidelity } from '../../metrics/mufidelity.js';
import { roadCurve } from '../../metrics/road.js';
import { complexity, sparseness } from '../../metrics/complexity.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { engineFor } from '../backend.js';
import { checkFeatureMaskSpec, featureMaskForInput, IMAGE_FLAGS, imageOptions, imageOptionsFromModel, parseBaseline, parseTarget, readInput, readTensorFile } from '../inputs.js';
import { checkOut, writeAtomically, writeFileAtomically } from '../outputs.js';
import { MAX_IMAGE_PIXELS } from '../../io/image.js';
import { curveSvg, type CurveSeries } from '../../viz/curves.js';
import { renderReport } from '../../viz/report.js';
import { ProgressBar } from '../progress.js';

export const METRICS = ['deletion', 'insertion', 'infidelity', 'sensitivity-max', 'mufidelity', 'road', 'sparseness', 'complexity', 'auroc', 'mass', 'precision'] as const;
type Metric = (typeof METRICS)[number];
const HIGHER_IS_BETTER: Record<Metric, boolean> = {
  deletion: false,
  insertion: true,
  infidelity: false,
  'sensitivity-max': false,
  mufidelity: true,
  road: false,
  sparseness: true,
  complexity: false,
  auroc: true,
  mass: true,
  precision: true,
};
/** Methods whose attributions are multiplied by (x − b): infidelity divides the perturbation accordingly (Captum's decorator). */
const MULTIPLIED_BY_INPUTS = new Set<string>(['input-x-gradient', 'integrated-gradients', 'gradient-shap', 'expected-gradients']);

export const EVALUATE_FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', help: 'model.json or .onnx' },
  { name: 'input', type: 'string', help: 'input batch: .json, .npy, .png, .jpg' },
  { name: 'target', type: 'string', help: 'output index, one per row, or auto', default: 'auto' },
  { name: 'methods', type: 'string', help: 'comma-separated method ids (random is always added as the control)', default: 'saliency,integrated-gradients,occlusion' },
  { name: 'metrics', type: 'string', help: `comma-separated: ${METRICS.join(', ')} (the last three need --relevant)`, default: 'deletion,insertion,infidelity' },
  { name: 'relevant', type: 'string', help: 'ground truth: 1 for relevant elements, the input shape (.json/.npy)' },
  { name: 'feature-mask', type: 'string', help: 'groups for deletion/insertion ranking and for perturbation methods' },
  { name: 'baseline', type: 'string', help: 'zeros, a number, or a tensor file', default: 'zeros' },
  { name: 'steps', type: 'int', help: 'points on deletion/insertion curves', default: 20, min: 1, max: 10_000 },
  { name: 'samples', type: 'int', help: 'perturbations for infidelity and sensitivity-max', default: 10, min: 1, max: 100_000 },
  { name: 'seed', type: 'int', help: 'random seed', default: 0 },
  { name: 'out', type: 'string', help: 'FILE.json for the results, or a directory for results.json and report.html (ranked tables, deletion/insertion curves)' },
  { name: 'backend', type: 'string', help: 'wasm or cpu', default: 'wasm' },
  { name: 'engine', type: 'string', help: 'runtime of a model.json: auto (ONNX Runtime when onnxruntime-node is installed and the model exports, else TF.js), onnx or tfjs', default: 'auto' },
  { name: 'threads', type: 'int', help: 'threads ONNX Runtime may use inside one operator (default: its own choice; TF.js runs one)', min: 1, max: 256 },
  ...MODEL_TENSOR_FLAGS,
  { name: 'batch-size', type: 'int', help: 'max rows per model call', default: 128, min: 1, max: MAX_ROWS_PER_CALL },
  { name: 'max-pixels', type: 'int', help: 'largest image input decoded, in pixels (read from the header first)', default: MAX_IMAGE_PIXELS, min: 1 },
  { name: 'quiet', type: 'bool', help: 'no progress bar' },
  ...IMAGE_FLAGS,
];

export interface EvaluationResult {
  readonly method: string;
  readonly metric: Metric;
  readonly value: number;
  readonly perRow: number[];
  readonly higherIsBetter: boolean;
}

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

/** `attrib evaluate`: scores methods on a model and inputs; prints a ranked table per metric. */
export async function evaluateCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<{ stdout: string; files: string[] }> {
  const flags = parseFlags(raw, EVALUATE_FLAGS, 'evaluate');
  const need = (name: string): string => {
    const v = flags.get(name);
    if (typeof v !== 'string') throw new InvalidArgumentError(`'attrib evaluate' needs --${name}`, { arg: name });
    return v;
  };
  const methodIds = [...new Set([...String(flags.get('methods') ?? 'saliency,integrated-gradients,occlusion').split(','), 'random'].map((m) => m.trim()).filter(Boolean))];
  const descriptors = methodIds.map(findMethod);
  const metrics = String(flags.get('metrics') ?? 'deletion,insertion,infidelity')
    .split(',')
    .map((m) => m.trim()) as Metric[];
  for (const m of metrics) {
    if (!(METRICS as readonly string[]).includes(m)) throw new InvalidArgumentError(`Unknown metric '${m}'; metrics: ${METRICS.join(', ')}`, { arg: 'metrics', value: m });
  }
  const needsTruth = metrics.some((m) => m === 'auroc' || m === 'mass' || m === 'precision');
  if (needsTruth && !flags.has('relevant')) throw new InvalidArgumentError(`Metrics auroc, mass and precision need --relevant FILE (1 on relevant elements)`, { arg: 'relevant' });
  const imageOpts = imageOptions(flags);
  const inputFile = need('input');
  const outFlag = flags.get('out');
  if (typeof outFlag === 'string') await checkOut(outFlag);
  const maskSpec = flags.get('feature-mask');
  if (typeof maskSpec === 'string') checkFeatureMaskSpec(maskSpec);
  const model = await loadModel(need('model'), { ...engineFor(flags.get('engine'), descriptors, flags.get('threads')), ...(await modelTensorOptions(flags)) });
  let input: Awaited<ReturnType<typeof readInput>>;
  let baseline: Awaited<ReturnType<typeof parseBaseline>>;
  try {
    // what the user left out and the model's metadata says: normalisation, layout
    const fromModel = imageOptionsFromModel(model, imageOpts);
    if (fromModel.taken.length > 0 && flags.get('quiet') !== true) process.stderr.write(`attrib: note: from the model's metadata: ${fromModel.taken.join(', ')}\n`);
    input = await readInput(inputFile, model, { ...fromModel.options, maxPixels: flags.get('max-pixels') as number | undefined });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const x = input.x;
  try {
    baseline = await parseBaseline(flags.get('baseline') as string | undefined);
  } catch (e) {
    x.dispose();
    model.dispose();
    throw e;
  }
  const quiet = flags.get('quiet') === true;
  const seed = Number(flags.get('seed') ?? 0);
  const steps = Number(flags.get('steps') ?? 20);
  const samples = Number(flags.get('samples') ?? 10);
  const batchSize = Number(flags.get('batch-size') ?? 128);
  try {
    const relevant = needsTruth ? (await readTensorFile(flags.get('relevant') as string, 'relevant mask')).data : undefined;
    if (relevant && relevant.length !== x.size) {
      throw new InvalidArgumentError(`--relevant has ${relevant.length} values but the input has ${x.size}; give one flag per input element`, { arg: 'relevant' });
    }
    const featureMask = flags.has('feature-mask') ? await featureMaskForInput(flags.get('feature-mask') as string, input) : undefined;
    // one set of targets for every method and metric
    const rawTarget = parseTarget(flags.get('target') as string | undefined, x.shape[0]!);
    const resolved = await resolveTarget(model, x, rawTarget, Budget.start({ signal }, { total: x.shape[0]!, fn: 'evaluate', exact: false }), batchSize, 'evaluate');
    const target = resolved.kind === 'index' ? Array.from(resolved.indices) : rawTarget;
    const common = { target, signal, batchSize, seed, ...(baseline !== undefined ? { baselines: baseline } : {}) } as AttributeOptions;
    const results: EvaluationResult[] = [];
    const curves: Record<string, CurveSeries[]> = {};
    for (const d of descriptors) {
      let method;
      try {
        method = d.create(model);
      } catch (e) {
        if (isAttributionError(e) && e.code === 'capability_missing') {
          if (!quiet) process.stderr.write(`attrib: skipping ${d.id}: ${e.message}\n`);
          continue;
        }
        throw e;
      }
      const bar = new ProgressBar(`evaluate ${d.id}`, !quiet);
      const opts = { ...common, onProgress: bar.update, ...(featureMask && d.options.some((o) => o.type === 'mask') ? { featureMask } : {}) } as AttributeOptions;
      const attr = await method.attribute(x, opts);
      try {
        for (const metric of metrics) {
          let perRow: ArrayLike<number>;
          if (metric === 'deletion' || metric === 'insertion') {
            const curve = await (metric === 'deletion' ? deletionCurve : insertionCurve)(model, x, attr.values, { ...common, steps, ...(featureMask ? { featureMask } : {}) });
            perRow = curve.auc;
            const meanCurve = Float64Array.from(curve.fractions, (_, k) => curve.values.reduce((acc, row) => acc + row[k]!, 0) / curve.values.length);
            (curves[metric] ??= []).push({ label: d.id, xs: curve.fractions, ys: meanCurve });
          } else if (metric === 'infidelity') {
            perRow = await infidelity(model, x, attr.values, { ...common, samples, multiplyByInputs: MULTIPLIED_BY_INPUTS.has(d.id) });
          } else if (metric === 'sensitivity-max') {
            perRow = await sensitivityMax(method, x, { ...opts, perturbations: samples, onProgress: undefined } as never);
          } else if (metric === 'mufidelity') {
            perRow = await muFidelity(model, x, attr.values, { ...common, samples: Math.max(samples, 32), ...(featureMask ? { featureMask } : {}) });
          } else if (metric === 'road') {
            perRow = (await roadCurve(model, x, attr.values, { ...common, order: 'morf' })).auc;
          } else if (metric === 'sparseness') {
            perRow = await sparseness(attr.values);
          } else if (metric === 'complexity') {
            perRow = await complexity(attr.values);
          } else {
            const s = await groundTruthScores(attr.values, relevant!);
            perRow = metric === 'auroc' ? s.auroc : metric === 'mass' ? s.mass : s.precisionAtK;
          }
          results.push({ method: d.id, metric, value: mean(perRow), perRow: Array.from(perRow), higherIsBetter: HIGHER_IS_BETTER[metric] });
        }
      } finally {
        bar.done();
        attr.dispose();
      }
    }
    const files: string[] = [];
    const out = flags.get('out') as string | undefined;
    if (out && out.toLowerCase().endsWith('.json')) {
      await writeFileAtomically(out, JSON.stringify({ results }, null, 2));
      files.push(out);
    } else if (out) {
      // a directory: the results JSON and a report with the ranked tables and the mean curves
      const charts = Object.entries(curves).map(([metric, series]) => curveSvg(`${metric} curve (mean over rows; ${metric === 'deletion' ? 'lower' : 'higher'} AUC is better)`, series));
      const html = renderReport({
        title: 'attrib evaluate',
        intro: `Model ${String(flags.get('model'))}, input ${String(flags.get('input'))}; every method is read against the random control.`,
        legend: false,
        sections: [{ title: 'Rankings', input: { kind: 'html', title: 'ranked methods (mean over rows)', html: `<pre>${table(results, metrics).replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>` }, methods: charts.map((svg, k) => ({ id: `curve-${k}`, title: Object.keys(curves)[k]!, html: svg, facts: {} })) }],
      });
      const written = new Map<string, string>([
        ['results.json', JSON.stringify({ results }, null, 2)],
        ['report.html', html],
      ]);
      await writeAtomically(written, out);
      files.push(...[...written.keys()].map((f) => path.join(out, f)));
    }
    return { stdout: table(results, metrics), files };
  } finally {
    if (baseline instanceof tf.Tensor) baseline.dispose();
    x.dispose();
    model.dispose();
  }
}

/** One ranked block per metric, best first, with the random control's value for reference. */
function table(results: readonly EvaluationResult[], metrics: readonly Metric[]): string {
  const lines: string[] = [];
  for (const metric of metrics) {
    const rows = results.filter((r) => r.metric === metric).sort((a, b) => (a.higherIsBetter ? b.value - a.value : a.value - b.value));
    if (rows.length === 0) continue;
    const control = rows.find((r) => r.method === 'random');
    lines.push(`${metric} (${rows[0]!.higherIsBetter ? 'higher' : 'lower'} is better)`);
    rows.forEach((r, i) => {
      const beats = control && r !== control ? ((r.higherIsBetter ? r.value > control.value : r.value < control.value) ? '' : '   (no better than random)') : '';
      lines.push(`  ${String(i + 1).padStart(2)}. ${r.method.padEnd(24)} ${r.value.toPrecision(4).padStart(12)}${beats}`);
    });
  }
  return lines.join('\n');
}
