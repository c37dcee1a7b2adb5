import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { findMethod } from '../../methods.js';
import type { AttributeOptions, MethodId } from '../../core/types.js';
import type { AttributionLike } from '../../core/types.js';
import type { ModelAdapter } from '../../models/model.js';
import { loadModel } from '../../io/load-model.js';
import { encodePng } from '../../io/image.js';
import { gridMask } from '../../attr/masks.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { readTensorFile, textInput } from '../inputs.js';
import { parseVocabulary } from '../../io/vocab.js';
import { tokenHtml } from '../../viz/token-spans.js';
import { imageRgba, normalizeMap, overlayRgba, reduceChannels, upscaleRgba } from '../../viz/heatmap.js';
import { renderReport, type ReportMethod, type ReportSection } from '../../viz/report.js';
import { ProgressBar } from '../progress.js';
import { CapabilityError } from '../../core/errors.js';
import { componentsDemo } from './demo-components.js';

/** The package root (models/ lives there), from src/cli/commands or dist/cli/commands. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Plan {
  readonly id: MethodId;
  readonly inner?: MethodId;
  readonly label: string;
  readonly layer?: string;
  readonly options: Record<string, unknown>;
}

/** Values per input element: a layer attribution of an embedding ([n, T, d]) is summed over d. */
async function perInputElement(attr: AttributionLike, x: tf.Tensor): Promise<Float32Array> {
  const v = (await attr.values.data()) as Float32Array;
  if (attr.kind !== 'layer' || attr.values.rank !== x.rank + 1) return v;
  const d = attr.values.shape[attr.values.rank - 1]!;
  const out = new Float32Array(v.length / d);
  for (let i = 0; i < out.length; i++) for (let k = 0; k < d; k++) out[i]! += v[i * d + k]!;
  return out;
}

function imagePlans(quick: boolean, background: tf.Tensor): Plan[] {
  const s = (full: number, small: number) => (quick ? small : full);
  const blocks4 = gridMask([32, 32, 3], 4);
  const blocks8 = gridMask([32, 32, 3], 8);
  return [
    { id: 'saliency', label: 'Saliency', options: {} },
    { id: 'input-x-gradient', label: 'Input × Gradient', options: {} },
    { id: 'integrated-gradients', label: 'Integrated Gradients', options: { steps: s(32, 8), rule: 'gauss-legendre' } },
    { id: 'noise-tunnel', inner: 'saliency', label: 'SmoothGrad', options: { samples: s(16, 4), stdevs: 0.1, seed: 1 } },
    { id: 'gradient-shap', label: 'GradientSHAP', options: { samples: s(32, 4), stdevs: 0.05, baselines: background, seed: 1 } },
    { id: 'expected-gradients', label: 'Expected Gradients', options: { samples: s(32, 4), baselines: background, seed: 1 } },
    { id: 'occlusion', label: 'Occlusion 4×4', options: { window: [4, 4, 3], strides: [2, 2, 3] } },
    { id: 'feature-ablation', label: 'Ablation (4×4 blocks)', options: { featureMask: blocks4 } },
    { id: 'feature-permutation', label: 'Permutation (4×4 blocks)', options: { featureMask: blocks4, seed: 1 } },
    { id: 'shapley-value-sampling', label: 'Shapley sampling (8×8 blocks)', options: { featureMask: blocks8, samples: s(16, 2), seed: 1 } },
    { id: 'kernel-shap', label: 'KernelSHAP (4×4 blocks)', options: { featureMask: blocks4, samples: s(400, 40), seed: 1 } },
    { id: 'lime', label: 'LIME (4×4 blocks)', options: { featureMask: blocks4, samples: s(400, 40), seed: 1 } },
  ];
}

function tabularPlans(quick: boolean, background: tf.Tensor): Plan[] {
  const s = (full: number, small: number) => (quick ? small : full);
  return [
    { id: 'saliency', label: 'Saliency', options: { abs: false } },
    { id: 'input-x-gradient', label: 'Input × Gradient', options: {} },
    { id: 'integrated-gradients', label: 'Integrated Gradients', options: { steps: s(50, 8) } },
    { id: 'noise-tunnel', inner: 'integrated-gradients', label: 'SmoothGrad on IG', options: { samples: s(8, 2), stdevs: 0.1, steps: 16, seed: 1 } },
    { id: 'gradient-shap', label: 'GradientSHAP', options: { samples: s(64, 8), baselines: background, seed: 1 } },
    { id: 'expected-gradients', label: 'Expected Gradients', options: { samples: s(64, 8), baselines: background, seed: 1 } },
    { id: 'occlusion', label: 'Occlusion', options: { window: [1] } },
    { id: 'feature-ablation', label: 'Feature ablation', options: {} },
    { id: 'feature-permutation', label: 'Feature permutation', options: { seed: 1 } },
    { id: 'shapley-values', label: 'Shapley values (exact)', options: {} },
    { id: 'shapley-value-sampling', label: 'Shapley sampling', options: { samples: s(50, 4), seed: 1 } },
    { id: 'kernel-shap', label: 'KernelSHAP', options: { samples: s(200, 30), seed: 1 } },
    { id: 'lime', label: 'LIME', options: { samples: s(400, 30), seed: 1 } },
  ];
}

function textPlans(quick: boolean): Plan[] {
  const s = (full: number, small: number) => (quick ? small : full);
  return [
    { id: 'layer-integrated-gradients', label: 'Layer IG (embedding)', options: { steps: s(50, 8) } },
    { id: 'layer-gradient-x-activation', label: 'Gradient × embedding', layer: 'embedding', options: {} },
    { id: 'feature-ablation', label: 'Token ablation (PAD)', options: {} },
    { id: 'shapley-value-sampling', label: 'Shapley sampling', options: { samples: s(20, 2), seed: 1 } },
    { id: 'kernel-shap', label: 'KernelSHAP', options: { samples: s(300, 30), seed: 1 } },
    { id: 'lime', label: 'LIME', options: { samples: s(300, 30), seed: 1 } },
  ];
}

interface Outcome {
  readonly plan: Plan;
  readonly attr: AttributionLike;
  /** Share of Σ|attr| on the relevant elements, per row. */
  readonly relevantShare: number[];
}

async function runPlans(model: ModelAdapter, x: tf.Tensor, relevant: Uint8Array, plans: Plan[], label: string, signal: AbortSignal): Promise<Outcome[]> {
  const out: Outcome[] = [];
  const n = x.shape[0]!;
  const per = relevant.length / n;
  for (const plan of plans) {
    const bar = new ProgressBar(`${label} ${plan.id}`, true);
    const method = findMethod(plan.id).create(model, { ...(plan.inner ? { inner: plan.inner } : {}), ...(plan.layer ? { layer: plan.layer } : {}) });
    const attr = await method.attribute(x, { target: 'auto', signal, onProgress: bar.update, ...plan.options } as AttributeOptions);
    bar.done();
    const v = await perInputElement(attr, x);
    const relevantShare: number[] = [];
    for (let i = 0; i < n; i++) {
      let on = 0;
      let all = 0;
      for (let k = 0; k < per; k++) {
        const a = Math.abs(v[i * per + k]!);
        all += a;
        if (relevant[i * per + k]) on += a;
      }
      relevantShare.push(all > 0 ? on / all : 0);
    }
    out.push({ plan, attr, relevantShare });
  }
  return out;
}

const mean = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** Flags of `attrib demo`. */
export const DEMO_FLAGS: readonly FlagSpec[] = [
  { name: 'out', type: 'string', help: 'output directory', default: 'demo-output' },
  { name: 'quick', type: 'bool', help: 'small budgets (for CI)' },
  { name: 'backend', type: 'string', help: 'TF.js backend: wasm or cpu', default: 'wasm' },
];

/**
 * `attrib demo [--out DIR] [--quick]`: the three bundled models, every fitting method, report.html and a
 * summary; then the induction transformer's components (components.html).
 */
export async function demoCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<number> {
  const flags = parseFlags(raw, DEMO_FLAGS, 'demo');
  const outDir = (flags.get('out') as string | undefined) ?? 'demo-output';
  const quick = flags.get('quick') === true;
  const dir = path.join(PACKAGE_ROOT, 'models');
  const sections: ReportSection[] = [];
  const rows: string[][] = [];

  // image
  const imageModel = await loadModel(path.join(dir, 'demo-image', 'model.json'), { name: 'demo-image' });
  const imgIn = await readTensorFile(path.join(dir, 'demo-image', 'inputs.json'), 'demo input');
  const imgRel = await readTensorFile(path.join(dir, 'demo-image', 'relevant.json'), 'demo mask');
  const imgBg = await readTensorFile(path.join(dir, 'demo-image', 'background.json'), 'demo background');
  const xi = tf.tensor(imgIn.data, [...imgIn.shape]);
  const bgi = tf.tensor(imgBg.data, [...imgBg.shape]);
  const [n, h, w, c] = xi.shape as [number, number, number, number];
  const relImg = new Uint8Array(n * h * w * c);
  for (let k = 0; k < relImg.length; k++) relImg[k] = imgRel.data[Math.floor(k / c)]! > 0 ? 1 : 0;
  const imageOutcomes = await runPlans(imageModel, xi, relImg, imagePlans(quick, bgi), 'image', signal);
  const pixels = (await xi.data()) as Float32Array;
  const factor = 6;
  for (let i = 0; i < n; i++) {
    const img = pixels.subarray(i * h * w * c, (i + 1) * h * w * c);
    const inputPng = encodePng(upscaleRgba(imageRgba(img, h * w, c), w, h, factor), w * factor, h * factor);
    const methods: ReportMethod[] = [];
    for (const o of imageOutcomes) {
      const v = (await o.attr.values.data()) as Float32Array;
      const map = normalizeMap(reduceChannels(v.subarray(i * h * w * c, (i + 1) * h * w * c), h, w, c, 'sum'));
      const png = encodePng(upscaleRgba(overlayRgba(img, c, map, 'diverging', 0.8), w, h, factor), w * factor, h * factor);
      methods.push({ id: o.plan.id, title: o.plan.label, png, facts: facts(o, i) });
    }
    sections.push({ title: `Image ${i}: target ${imageOutcomes[0]?.attr.diagnostics.targets?.[i]}`, subtitle: 'red square = the class evidence; green square = distractor', input: { kind: 'image', png: inputPng }, methods });
  }
  for (const o of imageOutcomes) rows.push(['image', o.plan.label, fmtMs(o.attr.diagnostics.elapsedMs / n), String(o.attr.diagnostics.evaluations), pct(mean(o.relevantShare))]);
  const chanceImage = mean(Array.from({ length: n }, (_, i) => relImg.subarray(i * h * w * c, (i + 1) * h * w * c).reduce((s, v) => s + v, 0) / (h * w * c)));

  // tabular
  const tabModel = await loadModel(path.join(dir, 'demo-tabular', 'model.json'), { name: 'demo-tabular' });
  const tabIn = await readTensorFile(path.join(dir, 'demo-tabular', 'inputs.json'), 'demo input');
  const tabBg = await readTensorFile(path.join(dir, 'demo-tabular', 'background.json'), 'demo background');
  const xt = tf.tensor(tabIn.data, [...tabIn.shape]);
  const bgt = tf.tensor(tabBg.data, [...tabBg.shape]);
  const [nt, f] = xt.shape as [number, number];
  const relTab = new Uint8Array(nt * f);
  for (let i = 0; i < nt; i++) for (const k of [0, 1, 2, 3]) relTab[i * f + k] = 1;
  const tabOutcomes = await runPlans(tabModel, xt, relTab, tabularPlans(quick, bgt), 'tabular', signal);
  const names = Array.from({ length: f }, (_, k) => `x${k}${k < 4 ? '*' : ''}`);
  const xs = (await xt.data()) as Float32Array;
  for (let i = 0; i < Math.min(nt, 4); i++) {
    const methods: ReportMethod[] = [];
    for (const o of tabOutcomes) {
      const v = await o.attr.values.data();
      methods.push({ id: o.plan.id, title: o.plan.label, bars: { names, values: Array.from(v.subarray(i * f, (i + 1) * f)) }, facts: facts(o, i) });
    }
    sections.push({ title: `Table row ${i}: target ${tabOutcomes[0]?.attr.diagnostics.targets?.[i]}`, subtitle: 'only x0–x3 (marked *) drive the label', input: { kind: 'table', names, values: Array.from(xs.subarray(i * f, (i + 1) * f)) }, methods });
  }
  for (const o of tabOutcomes) rows.push(['tabular', o.plan.label, fmtMs(o.attr.diagnostics.elapsedMs / nt), String(o.attr.diagnostics.evaluations), pct(mean(o.relevantShare))]);

  // text
  const textDir = path.join(dir, 'demo-text');
  const textModel = await loadModel(path.join(textDir, 'model.json'), { name: 'demo-text' });
  const vocab = parseVocabulary(await fs.readFile(path.join(textDir, 'vocab.txt'), 'utf8'), 'demo vocabulary');
  const texts = (await fs.readFile(path.join(textDir, 'reviews.txt'), 'utf8')).split('\n').filter((l) => l.trim());
  const txt = textInput(texts, vocab, textModel, 'demo reviews');
  const txtRel = await readTensorFile(path.join(textDir, 'relevant.json'), 'demo mask');
  const relText = Uint8Array.from(txtRel.data, (v) => (v > 0 ? 1 : 0));
  const textOutcomes = await runPlans(textModel, txt.x, relText, textPlans(quick), 'text', signal);
  const [nx, len] = txt.x.shape as [number, number];
  for (let i = 0; i < nx; i++) {
    const labels = txt.tokens![i]!;
    const methods: ReportMethod[] = [];
    for (const o of textOutcomes) {
      const v = await perInputElement(o.attr, txt.x);
      methods.push({ id: o.plan.id, title: o.plan.label, html: tokenHtml(labels, Array.from(v.subarray(i * len, (i + 1) * len))), facts: facts(o, i) });
    }
    sections.push({ title: `Review ${i}: target ${textOutcomes[0]?.attr.diagnostics.targets?.[i]}`, subtitle: 'one or two sentiment words decide the class (1 positive, 0 negative)', input: { kind: 'html', html: tokenHtml(labels, new Array<number>(len).fill(0)) }, methods });
  }
  for (const o of textOutcomes) rows.push(['text', o.plan.label, fmtMs(o.attr.diagnostics.elapsedMs / nx), String(o.attr.diagnostics.evaluations), pct(mean(o.relevantShare))]);
  const chanceText = mean(Array.from({ length: nx }, (_, i) => relText.subarray(i * len, (i + 1) * len).reduce((a, b) => a + b, 0) / texts[i]!.split(/\s+/).length));

  const header = ['model', 'method', 'ms / input', 'evaluations', 'on relevant'];
  const html = renderReport({
    title: 'attrib demo: what drove each prediction?',
    intro: `Synthetic tasks with known ground truth. "on relevant" is the share of Σ|attribution| that falls on the truly relevant features (chance: ${pct(chanceImage)} for images, 40% for the table, ${pct(chanceText)} of the words of a review). Backend: ${tf.getBackend()}.`,
    sections,
    summary: { header, rows },
  });
  await fs.mkdir(outDir, { recursive: true });
  const reportPath = path.join(outDir, 'report.html');
  await fs.writeFile(reportPath, html);
  for (const o of [...imageOutcomes, ...tabOutcomes, ...textOutcomes]) o.attr.dispose();
  tf.dispose([xi, bgi, xt, bgt, txt.x]);
  imageModel.dispose();
  tabModel.dispose();
  textModel.dispose();

  // the transformer part runs on onnxruntime-node, an optional peer: without it, one line says so
  const comp = await componentsDemo(PACKAGE_ROOT, outDir, signal).catch((e: unknown) => {
    if (e instanceof CapabilityError) return e;
    throw e;
  });
  const compLines =
    comp instanceof CapabilityError
      ? [`transformer components: skipped (${comp.message})`]
      : ['transformer components (models/demo-induction, an induction GPT-2): top 3 heads by |score|', ...comp.rows.map((r) => `  ${r.method}: ${r.top} (${fmtMs(r.ms)} ms, ${r.evaluations} evaluations)`), `  report: ${comp.file}`];

  const widths = header.map((hd, k) => Math.max(hd.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: readonly string[]) => r.map((cell, k) => (k < 2 ? cell.padEnd(widths[k]!) : cell.padStart(widths[k]!))).join('  ');
  process.stdout.write(
    [`attrib demo (backend ${tf.getBackend()}${quick ? ', quick' : ''}): attribution share on the truly relevant features (chance: image ${pct(chanceImage)}, table 40%, text ${pct(chanceText)})`, line(header), ...rows.map(line), `report: ${reportPath}`, ...compLines, ''].join('\n'),
  );
  return 0;
}

function facts(o: Outcome, row: number): Record<string, string> {
  const d = o.attr.diagnostics;
  const f: Record<string, string> = { 'on relevant': pct(o.relevantShare[row]!), evaluations: String(d.evaluations) };
  if (d.convergenceDelta) f['completeness gap'] = d.convergenceDelta[row]!.toExponential(1);
  return f;
}

const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
const fmtMs = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
