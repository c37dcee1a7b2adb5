// The report and result JSON of `attrib explain`: what each card shows, labels, scores, tokens, layouts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { useBackend } from '../../test/backend.js';
import { FeatureAttribution } from '../core/result.js';
import type { Diagnostics } from '../core/types.js';
import { decodeImage, type ImageData01 } from '../io/image.js';
import { parseLabels } from '../io/labels.js';
import { transposeImage } from '../io/preprocess.js';
import { renderReport } from '../viz/report.js';
import { describeTarget, resultJson, targetScores, writeResult, type ResultContext } from './outputs.js';

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);

const diag = (targets?: number[]): Diagnostics => ({ evaluations: 1, elapsedMs: 1, truncated: false, ...(targets ? { targets } : {}) });

/** The PNG cards of a report, by alt text, decoded to [0, 1] floats. */
function cards(html: string): Map<string, ImageData01> {
  const out = new Map<string, ImageData01>();
  for (const m of html.matchAll(/<img alt="([^"]*)" src="data:image\/png;base64,([^"]*)"/g)) out.set(m[1]!, decodeImage(new Uint8Array(Buffer.from(m[2]!, 'base64'))));
  return out;
}

/** A 4×4 RGB picture with distinct pixels. */
const picture = (): ImageData01 => ({ width: 4, height: 4, channels: 3, data: Float32Array.from({ length: 48 }, (_, i) => ((i * 37) % 48) / 47) });

describe('report of an image input', () => {
  it('shows the input image (not the heatmap) in the input card, the labelled target with its score, and an overlay', async () => {
    const img = picture();
    const values = tf.tensor(Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), [1, 4, 4, 3]);
    using attr = new FeatureAttribution('saliency', values, diag([1]));
    const logits = Float32Array.of(0.5, 2, -1);
    const ctx: ResultContext = { outputs: { data: logits, perRow: 3 }, labels: parseLabels('cat\ndog\nbird', 'l'), layout: 'nhwc' };
    const dir = tempDir('attrib-out-');
    await writeResult(dir, attr, [img], undefined, ctx);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const shown = cards(html);
    expect([...shown.keys()]).toEqual(['input', 'saliency', 'saliency-overlay']);
    const input = shown.get('input')!;
    expect([input.width, input.height]).toEqual([256, 256]); // 4×4 enlarged 64 times
    // every enlarged pixel is the picture's pixel (to PNG rounding)
    for (const [x, y] of [[0, 0], [3, 1], [2, 3]] as const) {
      for (let c = 0; c < 3; c++) expect(input.data[((y * 64 + 10) * 256 + x * 64 + 10) * 3 + c]).toBeCloseTo(img.data[(y * 4 + x) * 3 + c]!, 2);
    }
    expect(Buffer.from(input.data.buffer).equals(Buffer.from(shown.get('saliency')!.data.buffer))).toBe(false);
    const p = Math.exp(2) / (Math.exp(0.5) + Math.exp(2) + Math.exp(-1));
    const want = `1 · &#39;dog&#39; (score ${Number(p.toPrecision(3))} / logit 2)`;
    expect(html).toContain(`<p class="sub">target ${want}</p>`);
    expect(html).toContain(`<span>target</span><span>${want}</span>`);
    const json = JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8'));
    expect(json.targetLabels).toEqual(['dog']);
    expect(json.scores).toEqual([2]);
    expect(json.probabilities[0]).toBeCloseTo(p, 6);
  });

  it('renders an NCHW attribution as the same heatmap as its NHWC transpose', async () => {
    const hwc = Float32Array.from({ length: 48 }, (_, i) => Math.cos(i * 0.7));
    const chw = transposeImage(hwc, 4, 4, 3, 'nchw');
    const heat = async (data: Float32Array, shape: number[], layout: 'nhwc' | 'nchw') => {
      using attr = new FeatureAttribution('saliency', tf.tensor(data, shape), diag());
      const dir = tempDir('attrib-out-');
      await writeResult(dir, attr, [picture()], undefined, { layout });
      return readFileSync(path.join(dir, 'heatmap-0.png'));
    };
    const a = await heat(hwc, [1, 4, 4, 3], 'nhwc');
    const b = await heat(chw, [1, 3, 4, 4], 'nchw');
    expect(b.equals(a)).toBe(true);
    // the channel sum is what is drawn: summing the wrong axis would give another map
    const wrong = await heat(Float32Array.from(chw), [1, 4, 4, 3], 'nhwc');
    expect(wrong.equals(a)).toBe(false);
  });

  it('states a resize in the page intro and under the input image', async () => {
    using attr = new FeatureAttribution('saliency', tf.zeros([1, 4, 4, 3]), diag());
    const dir = tempDir('attrib-out-');
    const resize = { from: { width: 640, height: 400 }, to: { width: 4, height: 4 }, policy: 'stretch' as const };
    await writeResult(dir, attr, [picture()], undefined, { layout: 'nhwc', preprocessing: { layout: 'nhwc', normalize: '[-1,1]', resize } });
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Input resized from 640×400 to 4×4 (stretched: the aspect ratio is not kept).');
    expect(html).toMatch(/class="facts caption">resized 640×400 → 4×4 \(stretched[^<]*; normalised \[-1,1\], shown undone</);
    expect(JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')).preprocessing).toEqual({ layout: 'nhwc', normalize: '[-1,1]', resize });
  });
});

describe('report of a tabular input', () => {
  it('shows the feature values and the attribution as bar charts with the feature names', async () => {
    using attr = new FeatureAttribution('integrated-gradients', tf.tensor2d([[0.5, -1.5, 0], [2, 0, -1]]), diag([0, 1]));
    const dir = tempDir('attrib-out-');
    const ctx: ResultContext = { input: { data: Float32Array.of(1, 2, -3, 4, 5, 6), shape: [2, 3] }, featureNames: ['age', 'income', 'debt & loans'] };
    await writeResult(dir, attr, undefined, undefined, ctx);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const row0 = html.slice(html.indexOf('<h2>row 0'), html.indexOf('<h2>row 1'));
    const svgs = row0.match(/<svg[\s\S]*?<\/svg>/g)!;
    expect(svgs).toHaveLength(2); // input values, attribution
    for (const svg of svgs) for (const name of ['age', 'income', 'debt &amp; loans']) expect(svg).toContain(`>${name}</text>`);
    expect(svgs[0]).toContain('<title>debt &amp; loans: -3.000</title>');
    expect(svgs[1]).toContain('<title>income: -1.500</title>');
    expect(row0).not.toMatch(/<div class="card" style="width:540px"><h3>input<\/h3><\/div>/);
    expect(JSON.parse(readFileSync(path.join(dir, 'result.json'), 'utf8')).featureNames).toEqual(['age', 'income', 'debt & loans']);
  });

  it('shows at most 48 bars: the largest attributions, in feature order', async () => {
    const values = Float32Array.from({ length: 100 }, (_, k) => (k % 2 ? k : -k) / 100);
    using attr = new FeatureAttribution('saliency', tf.tensor2d(values, [1, 100]), diag());
    const dir = tempDir('attrib-out-');
    await writeResult(dir, attr, undefined, undefined, { input: { data: new Float32Array(100), shape: [1, 100] } });
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    const bars = html.match(/<svg[\s\S]*?<\/svg>/g)![1]!;
    const names = [...bars.matchAll(/font-size="11">(x\d+)</g)].map((m) => m[1]);
    expect(names).toEqual(Array.from({ length: 48 }, (_, k) => `x${52 + k}`));
  });
});

describe('result JSON of a text input and target descriptions', () => {
  it('lists each token with its id and score', async () => {
    using attr = new FeatureAttribution('feature-ablation', tf.tensor2d([[0.25, -1, 0]]), diag([1]));
    const json = await resultJson(attr, { tokenIds: [[5, 9, 0]] }, [['great', 'plot', '·']]);
    expect(json['tokens']).toEqual([[{ token: 'great', id: 5, score: 0.25 }, { token: 'plot', id: 9, score: -1 }, { token: '·', id: 0, score: 0 }]]);
  });

  it('says probability, logit or single output as the model gives it', () => {
    expect(targetScores([1], { outputs: { data: Float32Array.of(0.2, 0.8), perRow: 2 } })).toEqual([{ index: 1, score: Float32Array.of(0.8)[0], probability: Float32Array.of(0.8)[0], kind: 'probability' }]);
    expect(describeTarget(targetScores([0], { outputs: { data: Float32Array.of(0.7), perRow: 1 } })[0]!)).toBe('0 (output 0.7)');
    expect(describeTarget({ index: 6, label: 'cat' })).toBe("6 · 'cat'");
    expect(describeTarget(targetScores([0], { outputs: { data: Float32Array.of(0, 0), perRow: 2 } })[0]!)).toBe('0 (score 0.5 / logit 0)');
  });

  it('leaves out the attribution legend where it does not apply and titles the input card', () => {
    const html = renderReport({ title: 't', legend: false, sections: [{ title: 'Rankings', input: { kind: 'html', title: 'ranked methods', html: '<pre>1. x</pre>' }, methods: [] }] });
    expect(html).not.toContain('class="legend"');
    expect(html).toContain('<h3>ranked methods</h3>');
    expect(renderReport({ title: 't', sections: [] })).toContain('class="legend"');
  });
});
