// `attrib explain` as a user runs it: image preprocessing flags, labels, feature names, and what the
// report shows (the input image, bars with names, the resize notice); bad values exit 2 before any work.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, removeTempDirs, tempDir } from '../../test/reference.js';
import { useBackend } from '../../test/backend.js';
import { attrib } from '../../test/run-cli.js';
import { decodeImage, encodePng, type ImageData01 } from '../io/image.js';
import { preprocessImage } from '../io/preprocess.js';

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);

const DEMO = (m: string, f: string) => path.join(ROOT, 'models', m, f);


/** The PNG cards of a report, by alt text (first of each), decoded. */
function cards(html: string): Map<string, ImageData01> {
  const out = new Map<string, ImageData01>();
  for (const m of html.matchAll(/<img alt="([^"]*)" src="data:image\/png;base64,([^"]*)"/g)) {
    if (!out.has(m[1]!)) out.set(m[1]!, decodeImage(new Uint8Array(Buffer.from(m[2]!, 'base64'))));
  }
  return out;
}

/** A `width`×`height` PNG of the demo picture sample-1 enlarged (nearest), and its file. */
function widePng(width: number, height: number): string {
  const img = decodeImage(new Uint8Array(readFileSync(DEMO('demo-image', 'sample-1.png'))));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (Math.floor((y * img.height) / height) * img.width + Math.floor((x * img.width) / width)) * 3;
      rgba.set([...[0, 1, 2].map((c) => Math.round(255 * img.data[p + c]!)), 255], (y * width + x) * 4);
    }
  }
  const file = path.join(tempDir('attrib-flags-'), `wide-${width}x${height}.png`);
  writeFileSync(file, encodePng(rgba, width, height));
  return file;
}

describe('attrib explain: image preprocessing', () => {
  it('states the resize of a 640×400 photo, names the target class with its score, and shows the picture', async () => {
    const png = widePng(640, 400);
    const labels = path.join(tempDir('attrib-flags-'), 'labels.txt');
    writeFileSync(labels, 'red\ngreen\nblue\nnone\n');
    const dir = path.join(tempDir('attrib-flags-'), 'out');
    const r = await attrib('explain', '--model', DEMO('demo-image', 'model.json'), '--input', png, '--method', 'saliency', '--resize', 'fit', '--labels', labels, '--out', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: input resized from 640×400 to 32×32 \(fit: aspect ratio kept, padded with black\)/);
    const res = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8'));
    expect(res.preprocessing).toEqual({ layout: 'nhwc', normalize: '[0,1]', resize: { from: { width: 640, height: 400 }, to: { width: 32, height: 32 }, policy: 'fit' } });
    expect(res.targetLabels).toEqual([['red', 'green', 'blue', 'none'][res.target[0]]]);
    expect(res.probabilities[0]).toBeGreaterThan(0.25);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Input resized from 640×400 to 32×32 (fit: aspect ratio kept, padded with black).');
    expect(html).toContain(`target ${res.target[0]} · &#39;${res.targetLabels[0]}&#39; (score `);
    // the input card is the fitted picture: black bands above and below (32 × 20 picture, 6 rows each side)
    const input = cards(html).get('input')!;
    const at = (x: number, y: number) => [0, 1, 2].map((c) => input.data[(y * input.width + x) * 3 + c]!);
    const f = input.width / 32;
    expect(at(16 * f, 2 * f)).toEqual([0, 0, 0]);
    expect(at(16 * f, 29 * f)).toEqual([0, 0, 0]);
    const want = preprocessImage(decodeImage(new Uint8Array(readFileSync(png))), { width: 32, height: 32, resize: 'fit' }).image;
    for (let c = 0; c < 3; c++) expect(at(12 * f + 1, 16 * f + 1)[c]).toBeCloseTo(want.data[(16 * 32 + 12) * 3 + c]!, 2);
  });

  it('runs a channels-first model: layout from its input shape, --normalize mean,std, --resize crop; attributions in NCHW with a heatmap', async () => {
    const dir = tempDir('attrib-flags-');
    // [3, 8, 8] → permute to [8, 8, 3] → flatten → dense(2): input × gradient is kernel ⊙ x, exactly
    const xIn = tfl.input({ shape: [3, 8, 8], name: 'x' });
    const perm = tfl.layers.permute({ dims: [2, 3, 1] }).apply(xIn) as tfl.SymbolicTensor;
    const flat = tfl.layers.flatten().apply(perm) as tfl.SymbolicTensor;
    const kernel = Float32Array.from({ length: 192 * 2 }, (_, i) => Math.sin(i * 0.37));
    const y = tfl.layers.dense({ units: 2, useBias: false, weights: [tf.tensor2d(kernel, [192, 2])] }).apply(flat) as tfl.SymbolicTensor;
    await tfl.model({ inputs: xIn, outputs: y }).save({
      save: async (a) => {
        writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(a.weightData as ArrayBuffer));
        writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }] }));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      },
    });
    const png = widePng(16, 8);
    const out = path.join(dir, 'out');
    const r = await attrib('explain', '--model', path.join(dir, 'model.json'), '--input', png, '--method', 'input-x-gradient', '--target', '1', '--normalize', '0.5,0.25', '--resize', 'crop', '--backend', 'cpu', '--out', out, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8'));
    expect(res.shape).toEqual([1, 3, 8, 8]);
    expect(res.preprocessing).toMatchObject({ layout: 'nchw', normalize: { mean: [0.5], std: [0.25] }, resize: { policy: 'crop' } });
    const x = preprocessImage(decodeImage(new Uint8Array(readFileSync(png))), { width: 8, height: 8, resize: 'crop', layout: 'nchw', normalize: { mean: [0.5], std: [0.25] } }).data;
    for (const [c, h, w] of [[0, 0, 0], [1, 3, 5], [2, 7, 2]] as const) {
      const want = kernel[((h * 8 + w) * 3 + c) * 2 + 1]! * x[c * 64 + h * 8 + w]!;
      expect(res.data[c * 64 + h * 8 + w]).toBeCloseTo(want, 5);
    }
    expect(existsSync(path.join(out, 'heatmap-0.png'))).toBe(true);
    expect(existsSync(path.join(out, 'overlay-0.png'))).toBe(true);
    // the input card shows the picture with the normalisation undone, not the model's values
    const input = cards(readFileSync(path.join(out, 'report.html'), 'utf8')).get('input')!;
    const f = input.width / 8;
    const pic = preprocessImage(decodeImage(new Uint8Array(readFileSync(png))), { width: 8, height: 8, resize: 'crop' }).image;
    for (let c = 0; c < 3; c++) expect(input.data[((3 * f) * input.width + 5 * f) * 3 + c]).toBeCloseTo(pic.data[(3 * 8 + 5) * 3 + c]!, 2);
    // a grid segmentation of a channels-first input: 4×4 blocks across all channels, each block's
    // ablation on a linear model is the sum of kernel ⊙ x over its 3 × 16 elements
    const g = await attrib('explain', '--model', path.join(dir, 'model.json'), '--input', png, '--method', 'feature-ablation', '--feature-mask', 'grid:4', '--target', '1', '--normalize', '0.5,0.25', '--resize', 'crop', '--backend', 'cpu', '--quiet');
    expect(g.code, g.stderr).toBe(0);
    const ablation = JSON.parse(g.stdout).data as number[];
    let block = 0;
    for (let c = 0; c < 3; c++) for (let h = 4; h < 8; h++) for (let w = 0; w < 4; w++) block += kernel[((h * 8 + w) * 3 + c) * 2 + 1]! * x[c * 64 + h * 8 + w]!;
    for (const [c, h, w] of [[0, 4, 0], [2, 7, 3], [1, 5, 2]] as const) expect(ablation[c * 64 + h * 8 + w]).toBeCloseTo(block, 4);
    expect(ablation[0]).not.toBeCloseTo(block, 4);
  });

  it('shows a tensor-JSON image batch as pictures in the input cards, not heatmaps', async () => {
    const dir = path.join(tempDir('attrib-flags-'), 'out');
    const r = await attrib('explain', '--model', DEMO('demo-image', 'model.json'), '--input', DEMO('demo-image', 'inputs.json'), '--method', 'saliency', '--out', dir, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const t = JSON.parse(readFileSync(DEMO('demo-image', 'inputs.json'), 'utf8')) as { data: number[] };
    const input = cards(html).get('input')!;
    const f = input.width / 32;
    for (const [px, py] of [[3, 4], [20, 10], [30, 30]] as const) {
      for (let c = 0; c < 3; c++) expect(input.data[((py * f + 1) * input.width + px * f + 1) * 3 + c]).toBeCloseTo(t.data[(py * 32 + px) * 3 + c]!, 2);
    }
    expect((html.match(/<img alt="input"/g) ?? []).length).toBe(4);
  });
});

describe('attrib explain: tabular and text results', () => {
  it('draws feature values and attributions as bars named by --feature-names', async () => {
    const names = path.join(tempDir('attrib-flags-'), 'names.json');
    const featureNames = ['age', 'income', 'debt', 'rent', 'cars', 'kids', 'pets', 'loans', 'score', 'tenure'];
    writeFileSync(names, JSON.stringify(featureNames));
    const dir = path.join(tempDir('attrib-flags-'), 'out');
    const r = await attrib('explain', '--model', DEMO('demo-tabular', 'model.json'), '--input', DEMO('demo-tabular', 'inputs.json'), '--method', 'saliency', '--feature-names', names, '--out', dir, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')).featureNames).toEqual(featureNames);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const row0 = html.slice(html.indexOf('<h2>row 0'), html.indexOf('<h2>row 1'));
    const svgs = row0.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(2);
    const x0 = (JSON.parse(readFileSync(DEMO('demo-tabular', 'inputs.json'), 'utf8')) as { data: number[] }).data[1]!;
    expect(svgs[0]).toContain(`<title>income: ${x0.toPrecision(4)}</title>`);
    for (const n of featureNames) expect(svgs[1]).toContain(`>${n}</text>`);
  });

  it('lists the tokens beside their scores in the text result JSON', async () => {
    const r = await attrib('explain', '--model', DEMO('demo-text', 'model.json'), '--vocab', DEMO('demo-text', 'vocab.txt'), '--text', 'a great film', '--steps', '8', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { tokens: { token: string; id: number; score: number }[][]; positionScores: number[] };
    const row = res.tokens[0]!;
    expect(row.length).toBe(res.positionScores.length);
    expect(row[1]!.token).toBe('great');
    expect(row[1]!.id).toBe(2); // line 3 of vocab.txt
    expect(row.map((t) => t.score)).toEqual(res.positionScores);
    expect(row[row.length - 1]!.token).toBe('·');
  });
});

describe('attrib evaluate: report', () => {
  it('titles its rankings card and shows no attribution legend; takes the image flags', async () => {
    const dir = path.join(tempDir('attrib-flags-'), 'eval');
    const r = await attrib('evaluate', '--model', DEMO('demo-tabular', 'model.json'), '--input', DEMO('demo-tabular', 'inputs.json'), '--methods', 'saliency', '--metrics', 'deletion', '--steps', '4', '--out', dir, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).not.toContain('class="legend"');
    expect(html).not.toContain('<h3>input</h3>');
    expect(html).toContain('<h3>ranked methods (mean over rows)</h3>');
    const bad = await attrib('evaluate', '--model', DEMO('demo-image', 'model.json'), '--input', DEMO('demo-image', 'inputs.json'), '--layout', 'chw');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid_argument: Option '--layout' must be one of nhwc, nchw/);
  });
});

describe('attrib explain: bad preprocessing and name flags', () => {
  const wrongLabels = () => {
    const f = path.join(tempDir('attrib-flags-'), 'labels.txt');
    writeFileSync(f, 'a\nb\nc\n');
    return f;
  };
  const wrongNames = () => {
    const f = path.join(tempDir('attrib-flags-'), 'names.txt');
    writeFileSync(f, 'a\nb\n');
    return f;
  };
  const image = ['--model', DEMO('demo-image', 'model.json'), '--input', DEMO('demo-image', 'sample-1.png')];
  const tabular = ['--model', DEMO('demo-tabular', 'model.json'), '--input', DEMO('demo-tabular', 'inputs.json')];
  it.each([
    ['--normalize 1,2,3', () => [...image, '--normalize', '1,2,3'], /invalid_argument: Option '--normalize' must be/],
    ['--normalize std 0', () => [...image, '--normalize', '0.5,0'], /invalid_argument: Option '--normalize': every std must be > 0/],
    ['--normalize 2 channels', () => [...image, '--normalize', '0.5,0.5/0.2,0.2'], /invalid_argument: .*1 or 3 values \(one per channel\), got 2/],
    ['--layout hwc', () => [...image, '--layout', 'hwc'], /invalid_argument: Option '--layout' must be one of nhwc, nchw/],
    ['--layout nchw on an NHWC model', () => [...image, '--layout', 'nchw'], /shape_mismatch: .*has 32 channels/],
    ['--resize squash', () => [...image, '--resize', 'squash'], /invalid_argument: Option '--resize' must be one of stretch, fit, crop, none/],
    ['--resize none', () => ['--model', DEMO('demo-image', 'model.json'), '--input', widePng(40, 30), '--resize', 'none'], /shape_mismatch: Image is 40×30 but the model takes 32×32/],
    ['--labels count', () => [...image, '--labels', wrongLabels()], /invalid_argument: Labels .* name 3 classes but the model has 4 outputs/],
    ['--labels missing', () => [...image, '--labels', 'no-such-labels.txt'], /invalid_file: Cannot read labels/],
    ['--feature-names count', () => [...tabular, '--feature-names', wrongNames()], /invalid_argument: --feature-names .* has 2 names but a row of the input has 10 features/],
  ])('%s: one line, exit 2, nothing written', async (_, args, msg) => {
    const out = path.join(tempDir('attrib-flags-'), 'never');
    const r = await attrib('explain', ...args(), '--method', 'saliency', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
    expect(existsSync(out)).toBe(false);
  });
});
