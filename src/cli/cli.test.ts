// The CLI as a user runs it: a child process, exit codes, one-line errors, files written or not.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, examples, reference, referencePath, removeTempDirs, tempDir } from '../../test/reference.js';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '../../test/backend.js';
import { attrib } from '../../test/run-cli.js';
import { encodeNpy } from '../io/npy.js';

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);



const tmp = () => tempDir('attrib-cli-');

function exampleFile(m: 'tabular_mlp' | 'image_cnn'): string {
  const file = path.join(tmp(), 'x.json');
  const x = examples(m);
  writeFileSync(file, JSON.stringify({ shape: x.shape, data: Array.from(x.dataSync()) }));
  x.dispose();
  return file;
}

const rel = (a: number[], e: number[]) => Math.max(...a.map((v, i) => Math.abs(v - e[i]!))) / Math.max(...e.map(Math.abs));

describe('attrib explain --engine', () => {
  it('onnx runs the exported model.json on ONNX Runtime with the same numbers; rules methods and bad values are refused in one line', async () => {
    const input = exampleFile('tabular_mlp');
    const args = ['explain', '--model', referencePath('tabular_mlp', 'model.json'), '--input', input, '--method', 'integrated-gradients', '--steps', '50', '--rule', 'gauss-legendre', '--quiet'];
    const r = await attrib(...args, '--engine', 'onnx');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(rel(JSON.parse(r.stdout).data, reference('tabular_mlp').methods['integrated_gradients_gausslegendre']!.attributions.data)).toBeLessThan(1e-4);
    const lrp = await attrib('explain', '--model', referencePath('tabular_mlp', 'model.json'), '--input', input, '--method', 'lrp', '--engine', 'onnx');
    expect(lrp.code).not.toBe(0);
    expect(lrp.stderr.trim().split('\n')).toHaveLength(1);
    expect(lrp.stderr).toMatch(/TF\.js only: use --engine tfjs or auto/);
    const auto = await attrib('explain', '--model', referencePath('tabular_mlp', 'model.json'), '--input', input, '--method', 'deeplift', '--engine', 'auto', '--quiet');
    expect(auto.code).toBe(0);
    const bad = await attrib(...args, '--engine', 'torch');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--engine' must be one of tfjs, onnx, auto/);
  });
});

describe('attrib explain', () => {
  it('matches Captum: tabular IG (gauss-legendre) on cpu and feature ablation with groups from a mask file', async () => {
    const input = exampleFile('tabular_mlp');
    const out = path.join(tmp(), 'ig.json');
    const r = await attrib('explain', '--model', referencePath('tabular_mlp', 'model.json'), '--input', input, '--method', 'integrated-gradients', '--steps', '50', '--rule', 'gauss-legendre', '--backend', 'cpu', '--out', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    expect(res.method).toBe('integrated-gradients');
    expect(res.target).toEqual(reference('tabular_mlp').targets);
    expect(res.shape).toEqual([8, 12]);
    expect(res.diagnostics.evaluations).toBe(8 * 52 + 8);
    expect(res.diagnostics.convergenceDelta).toHaveLength(8);
    expect(rel(res.data, reference('tabular_mlp').methods['integrated_gradients_gausslegendre']!.attributions.data)).toBeLessThan(1e-4);

    const mask = path.join(tmp(), 'mask.json');
    writeFileSync(mask, JSON.stringify({ shape: [12], data: [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5] }));
    const r2 = await attrib('explain', '--model', referencePath('tabular_mlp', 'model.json'), '--input', input, '--method', 'feature-ablation', '--feature-mask', mask, '--target', reference('tabular_mlp').targets.join(','));
    expect(r2.code).toBe(0);
    expect(rel(JSON.parse(r2.stdout).data, reference('tabular_mlp').methods['feature_ablation_groups']!.attributions.data)).toBeLessThan(1e-4);
  });

  it('writes a directory with JSON, .npy, heatmaps and report.html for image inputs (wasm, occlusion)', async () => {
    const input = exampleFile('image_cnn');
    const dir = path.join(tmp(), 'out');
    const r = await attrib('explain', '--model', referencePath('image_cnn', 'model.onnx'), '--input', input, '--method', 'occlusion', '--window', '4,4,3', '--strides', '4,4,3', '--out', dir, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['result.json', 'attribution.npy', 'heatmap-0.png', 'heatmap-7.png', 'report.html']));
    expect(files.some((f) => f.startsWith('.attrib-tmp'))).toBe(false);
    const res = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8'));
    expect(rel(res.data, reference('image_cnn').methods['occlusion_w4_s4']!.attributions.data)).toBeLessThan(1e-4);
  });

  it('reads .npy inputs', async () => {
    const x = examples('tabular_mlp');
    const file = path.join(tmp(), 'x.npy');
    writeFileSync(file, encodeNpy({ shape: x.shape, dtype: 'float32', data: x.dataSync() as Float32Array }));
    x.dispose();
    const r = await attrib('explain', '--model', referencePath('tabular_mlp', 'model.onnx'), '--input', file, '--method', 'occlusion', '--window', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(rel(JSON.parse(r.stdout).data, reference('tabular_mlp').methods['occlusion_w1']!.attributions.data)).toBeLessThan(1e-4);
  });

  it('explains a PNG image (resized to the model input) with an overlay', async () => {
    const dir = path.join(tmp(), 'png');
    const r = await attrib('explain', '--model', path.join(ROOT, 'models', 'demo-image', 'model.json'), '--input', path.join(ROOT, 'models', 'demo-image', 'sample-1.png'), '--method', 'saliency', '--out', dir, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['overlay-0.png', 'heatmap-0.png']));
    expect(JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')).target).toEqual([1]);
  });

  it.each([
    [['--model', 'missing/model.json', '--input', 'x.json'], /invalid_model: Model file 'missing\/model.json' does not exist/],
    [['--input', 'x.json'], /needs --model/],
    [['--method', 'magic'], /unknown_method: Unknown method 'magic'/],
    [['--method', 'saliency', '--steps', '5'], /Unknown option '--steps'/],
    [['--method', 'integrated-gradients', '--steps', 'many'], /must be an integer/],
  ])('bad input %j: one line on stderr, exit 2', async (args, msg) => {
    const r = await attrib('explain', ...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
  });

  it('says in one line that a token-id model has no input gradients', async () => {
    const input = path.join(tmp(), 'ids.json');
    writeFileSync(input, JSON.stringify([[5, 9, 3, 12, 40, 7, 8, 0, 0, 0, 0, 0]]));
    const r = await attrib('explain', '--model', referencePath('text_cnn', 'model.json'), '--input', input, '--method', 'integrated-gradients');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/capability_missing: .*token ids/);
  });

  it('rejects a target out of range, a wrong input shape and a too-small budget without writing --out', async () => {
    const input = exampleFile('tabular_mlp');
    const out = path.join(tmp(), 'never.json');
    const model = referencePath('tabular_mlp', 'model.json');
    for (const [args, msg] of [
      [['--target', '9'], /out of range: index 9 for a model with 3 outputs/],
      [['--max-evaluations', '10'], /budget_exceeded/],
      [['--target', '1,2'], /2 targets for 8 input rows/],
    ] as const) {
      const r = await attrib('explain', '--model', model, '--input', input, '--method', 'integrated-gradients', '--out', out, ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(existsSync(out)).toBe(false);
    }
    const bad = path.join(tmp(), 'bad.json');
    writeFileSync(bad, JSON.stringify({ shape: [12], data: new Array(12).fill(0) }));
    const r = await attrib('explain', '--model', model, '--input', bad, '--method', 'saliency');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/batch dimension is missing/);
  });
});

describe('attrib explain on text models and layers', () => {
  // the reference text CNN's vocabulary: triggers 1–3 → class 1, 4–6 → class 0, fillers 7–49
  const vocabFile = () => {
    const words = ['<pad>', 'great', 'superb', 'lovely', 'awful', 'dull', 'bad', ...Array.from({ length: 43 }, (_, i) => `w${i + 7}`)];
    const file = path.join(tmp(), 'vocab.txt');
    writeFileSync(file, words.join('\n') + '\n');
    return file;
  };

  it('explains plain text with a vocabulary: layer IG on the embedding by default, token highlighting in the report', async () => {
    const vocab = vocabFile();
    const texts = path.join(tmp(), 'reviews.txt');
    writeFileSync(texts, 'w9 w12 Great w40 w7 w8\nw20 awful w33 w11 w30 w25 w17\n');
    const dir = path.join(tmp(), 'text-out');
    const r = await attrib('explain', '--model', referencePath('text_cnn', 'model.json'), '--input', texts, '--vocab', vocab, '--steps', '32', '--out', dir, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8'));
    expect(res.method).toBe('layer-integrated-gradients');
    expect(res.layer).toBe('embedding');
    expect(res.shape).toEqual([2, 12, 16]);
    expect(res.target).toEqual([1, 0]);
    const scores: number[] = res.positionScores;
    expect(scores).toHaveLength(24);
    // the trigger word carries the largest score of its row
    const row = (i: number) => scores.slice(i * 12, i * 12 + 12);
    expect(row(0).indexOf(Math.max(...row(0)))).toBe(2);
    expect(row(1).indexOf(Math.max(...row(1)))).toBe(1);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Great');
    expect(html).toContain('awful');
    const same = await attrib('explain', '--model', referencePath('text_cnn', 'model.json'), '--text', 'w9 w12 great w40 w7 w8', '--vocab', vocab, '--steps', '32', '--quiet');
    expect(JSON.parse(same.stdout).positionScores).toEqual(row(0).map((v) => expect.closeTo(v, 5)));
  });

  it('runs GradCAM on a named layer (Captum parity), GradCAM++ on the default layer with an overlay, and a neuron method', async () => {
    const input = exampleFile('image_cnn');
    const dir = path.join(tmp(), 'cam-out');
    const model = referencePath('image_cnn', 'model.json');
    const r = await attrib('explain', '--model', model, '--input', input, '--method', 'layer-gradcam', '--layer', 'conv2', '--target', reference('image_cnn').targets.join(','), '--out', dir, '--quiet');
    expect(r.code).toBe(0);
    const res = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8'));
    expect(res.layer).toBe('conv2');
    expect(rel(res.data, reference('image_cnn').methods['layer_gradcam']!.attributions.data)).toBeLessThan(1e-4);
    const png = path.join(tmp(), 'x.png');
    const x = examples('image_cnn');
    const { encodePng } = await import('../io/image.js');
    const px = Array.from(x.dataSync().slice(0, 32 * 32 * 3));
    const rgba = new Uint8Array(32 * 32 * 4);
    for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 4; c++) rgba[p * 4 + c] = c === 3 ? 255 : Math.round(px[p * 3 + c]! * 255);
    writeFileSync(png, encodePng(rgba, 32, 32));
    x.dispose();
    const dir2 = path.join(tmp(), 'cam-png');
    const r2 = await attrib('explain', '--model', model, '--input', png, '--method', 'gradcam-plus-plus', '--out', dir2, '--quiet');
    expect(r2.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir2, 'result.json'), 'utf8')).layer).toBe('conv2'); // the last convolutional layer
    expect(readdirSync(dir2)).toContain('overlay-0.png');
    const r3 = await attrib('explain', '--model', model, '--input', png, '--method', 'neuron-integrated-gradients', '--layer', 'fc1', '--neuron', '5', '--steps', '8', '--quiet');
    expect(r3.code).toBe(0);
    expect(JSON.parse(r3.stdout).shape).toEqual([1, 32, 32, 3]);
  });

  it('segments inputs on the fly: SLIC superpixels with a blur baseline, sentence spans of a text', async () => {
    const png = path.join(ROOT, 'models', 'demo-image', 'sample-1.png');
    const r = await attrib('explain', '--model', path.join(ROOT, 'models', 'demo-image', 'model.json'), '--input', png, '--method', 'feature-ablation', '--feature-mask', 'slic:30', '--baseline', 'blur:3', '--quiet');
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout);
    const groups = new Set(res.data).size;
    expect(res.diagnostics.evaluations).toBeGreaterThan(10); // one per superpixel, plus F(x)
    expect(groups).toBeGreaterThan(10);
    const t = await attrib('explain', '--model', path.join(ROOT, 'models', 'demo-text', 'model.json'), '--vocab', path.join(ROOT, 'models', 'demo-text', 'vocab.txt'), '--text', 'the plot was dull. the actors were weak!', '--method', 'feature-ablation', '--feature-mask', 'sentences', '--quiet');
    const scores: number[] = JSON.parse(t.stdout).data;
    expect(new Set(scores.slice(0, 5)).size).toBe(1); // the first sentence is one feature
    expect(new Set(scores.slice(5, 10)).size).toBe(1);
    const many = await attrib('explain', '--model', path.join(ROOT, 'models', 'demo-image', 'model.json'), '--input', path.join(ROOT, 'models', 'demo-image', 'inputs.json'), '--method', 'feature-ablation', '--feature-mask', 'slic');
    expect(many.code).toBe(2);
    expect(many.stderr).toMatch(/give one input row \(got 4\)/);
  });

  it('bad layer input: one line, exit 2', async () => {
    const input = exampleFile('image_cnn');
    const model = referencePath('image_cnn', 'model.json');
    for (const [args, msg] of [
      [['--method', 'layer-gradcam', '--layer', 'conv9'], /unknown_hook: .*'conv9'.*conv1, pool1, conv2/],
      [['--method', 'layer-gradcam', '--layer', 'fc1'], /capability_missing: .*spatial dims/],
      [['--method', 'saliency', '--layer', 'fc1'], /takes no --layer/],
      [['--method', 'layer-conductance'], /needs a layer .*--layer NAME/],
      [['--method', 'neuron-gradient', '--layer', 'fc1', '--neuron', '99'], /'neuron' .* \[0, 32\)/],
    ] as const) {
      const r = await attrib('explain', '--model', model, '--input', input, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
    const r = await attrib('explain', '--model', referencePath('text_cnn', 'model.json'), '--text', 'great movie');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--vocab FILE/);
    const ids = path.join(tmp(), 'ids.json');
    writeFileSync(ids, JSON.stringify([[5, 9, 3, 12, 40, 7, 8, 0, 0, 0, 0, 0]]));
    const lrp = await attrib('explain', '--model', referencePath('text_cnn', 'model.json'), '--input', ids, '--method', 'lrp');
    expect(lrp.code).toBe(2);
    expect(lrp.stderr.trim().split('\n')).toHaveLength(1);
    expect(lrp.stderr).toMatch(/capability_missing: .*no relevance rule for layer 'embedding' .*\(type Embedding\)/);
  });
});

describe('attrib explain with a multi-input model', () => {
  it('feeds --inputs name=FILE to the model and holds it fixed', async () => {
    const dir = tmp();
    const xIn = tfl.input({ shape: [4], name: 'x' });
    const maskIn = tfl.input({ shape: [4], name: 'mask' });
    const prod = tfl.layers.multiply({ name: 'prod' }).apply([xIn, maskIn]) as tfl.SymbolicTensor;
    const y = tfl.layers.dense({ units: 2, useBias: false, weights: [tf.tensor2d([1, 0, -2, 0, 3, 0, 0.5, 1], [4, 2])] }).apply(prod) as tfl.SymbolicTensor;
    await tfl.model({ inputs: [xIn, maskIn], outputs: y }).save({
      save: async (a) => {
        writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(a.weightData as ArrayBuffer));
        writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }] }));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      },
    });
    writeFileSync(path.join(dir, 'x.json'), JSON.stringify([[1, 2, 3, 4], [-1, 0.5, 2, 1]]));
    writeFileSync(path.join(dir, 'mask.json'), JSON.stringify([[1, 1, 0, 1], [0, 1, 1, 1]]));
    const args = ['explain', '--model', path.join(dir, 'model.json'), '--input', path.join(dir, 'x.json'), '--method', 'feature-ablation', '--target', '0'];
    const r = await attrib(...args, '--inputs', `mask=${path.join(dir, 'mask.json')}`);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).data).toEqual([1, -4, 0, 2, 0, -1, 6, 0.5]);
    const missing = await attrib(...args);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--inputs mask=FILE/);
    // a layer method on the default engine: the layer's shape is known although the probe cannot run a two-input graph
    const lig = await attrib(...args.slice(0, 5), '--method', 'layer-integrated-gradients', '--layer', 'prod', '--target', '0', '--inputs', `mask=${path.join(dir, 'mask.json')}`);
    expect(lig.code, lig.stderr).toBe(0);
    const out = JSON.parse(lig.stdout) as { data: number[]; diagnostics: { engine: string } };
    expect(out.diagnostics.engine).toBe('onnx');
    // linear after the layer: LIG on it is a ⊙ w exactly, here the same numbers as ablation
    out.data.forEach((v, i) => expect(v).toBeCloseTo([1, -4, 0, 2, 0, -1, 6, 0.5][i]!, 4));
  });
});

describe('attrib evaluate', () => {
  it('scores methods against the random control and writes the results JSON', async () => {
    const out = path.join(tmp(), 'eval.json');
    const relevant = path.join(tmp(), 'relevant.json');
    writeFileSync(relevant, JSON.stringify({ shape: [8, 10], data: Array.from({ length: 80 }, (_, k) => (k % 10 < 4 ? 1 : 0)) }));
    const r = await attrib(
      'evaluate',
      '--model', path.join(ROOT, 'models', 'demo-tabular', 'model.json'),
      '--input', path.join(ROOT, 'models', 'demo-tabular', 'inputs.json'),
      '--methods', 'integrated-gradients,feature-ablation',
      '--metrics', 'deletion,insertion,infidelity,auroc',
      '--relevant', relevant, '--steps', '10', '--samples', '4', '--out', out, '--quiet',
    );
    expect(r.code, r.stderr).toBe(0);
    const { results } = JSON.parse(readFileSync(out, 'utf8')) as { results: { method: string; metric: string; value: number; perRow: number[]; higherIsBetter: boolean }[] };
    expect(results).toHaveLength(3 * 4);
    const value = (method: string, metric: string) => results.find((x) => x.method === method && x.metric === metric)!;
    for (const method of ['integrated-gradients', 'feature-ablation']) {
      expect(value(method, 'deletion').value).toBeLessThan(value('random', 'deletion').value);
      expect(value(method, 'insertion').value).toBeGreaterThan(value('random', 'insertion').value);
      expect(value(method, 'auroc').value).toBeGreaterThan(0.9);
    }
    expect(value('random', 'auroc').higherIsBetter).toBe(true);
    expect(value('random', 'deletion').perRow).toHaveLength(8);
    expect(r.stdout).toMatch(/deletion \(lower is better\)/);
  });

  it('writes results.json and a report with the mean deletion and insertion curves to a directory', async () => {
    const dir = path.join(tmp(), 'eval-out');
    const r = await attrib('evaluate', '--model', path.join(ROOT, 'models', 'demo-tabular', 'model.json'), '--input', path.join(ROOT, 'models', 'demo-tabular', 'inputs.json'), '--methods', 'saliency,occlusion', '--metrics', 'deletion,insertion,sparseness', '--steps', '5', '--out', dir, '--quiet');
    expect(r.code).toBe(0);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect((html.match(/<polyline/g) ?? []).length).toBe(6); // 2 curves × (2 methods + random)
    expect(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')).results.some((x: { metric: string }) => x.metric === 'sparseness')).toBe(true);
  });

  it('rejects unknown metrics and ground-truth metrics without --relevant (exit 2)', async () => {
    const base = ['evaluate', '--model', path.join(ROOT, 'models', 'demo-tabular', 'model.json'), '--input', path.join(ROOT, 'models', 'demo-tabular', 'inputs.json')];
    const a = await attrib(...base, '--metrics', 'beauty');
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/Unknown metric 'beauty'/);
    const b = await attrib(...base, '--metrics', 'auroc');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/need --relevant/);
  });
});

describe('attrib methods and demo', () => {
  it('lists every registered method with cost and reference', async () => {
    const r = await attrib('methods', '--json');
    const list = JSON.parse(r.stdout) as { id: string; cost: string; reference: string }[];
    expect(list.map((m) => m.id)).toContain('kernel-shap');
    for (const m of list) expect(m.cost.length * m.reference.length).toBeGreaterThan(0);
  });

  it('runs the demo on the bundled models and writes report.html', async () => {
    const dir = tmp();
    const r = await attrib('demo', '--quick', '--out', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/on relevant/);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Integrated Gradients');
    expect(html).toContain('data:image/png;base64,');
  });
});
