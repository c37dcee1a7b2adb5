import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { dataReportHtml, imageLayout, topScores } from './data-report.js';

describe('attrib data report', () => {
  it('recognises image rows ([H, W], [C, H, W], [H, W, C] with C = 1 or 3) and nothing else', () => {
    expect(imageLayout([28, 28])).toEqual({ height: 28, width: 28, channels: 1, chw: true });
    expect(imageLayout([3, 32, 16])).toEqual({ height: 32, width: 16, channels: 3, chw: true });
    expect(imageLayout([8, 6, 1])).toEqual({ height: 8, width: 6, channels: 1, chw: false });
    for (const tabular of [[13], [2, 3], [5, 8, 8], [3, 3, 3], [1, 1, 28, 28]]) expect(imageLayout(tabular)).toBeUndefined();
  });

  it('draws an image test example beside its proponents and opponents, each scaled to its own range', () => {
    // 3 training and 2 test images [1, 4, 5]: example i is a ramp 0 … 19 times (i + 1)
    const set = (n: number) => ({ x: { shape: [n, 1, 4, 5], data: Float32Array.from({ length: n * 20 }, (_, k) => (k % 20) * (Math.floor(k / 20) + 1)) }, y: { shape: [n], data: Int32Array.from({ length: n }, (_, i) => i) } });
    const scores = Float32Array.of(0.5, -0.2, 0.1, -1, 2, 0.3);
    const html = dataReportHtml('grad-dot', scores, 2, 3, 1, set(3), set(2));
    const urls = [...html.matchAll(/<img src="data:image\/png;base64,([^"]+)" alt="([^"]+)"/g)];
    expect(urls.map((u) => u[2])).toEqual(['test 0', 'train 0: 0.500', 'train 1: -0.200', 'test 1', 'train 1: 2.000', 'train 0: -1.000']);
    expect(topScores(scores, 2, 3, 1)[1]!.proponents[0]).toEqual({ train: 1, score: 2 });
    const png = PNG.sync.read(Buffer.from(urls[0]![1]!, 'base64'));
    expect([png.width, png.height]).toEqual([5, 4]);
    expect([png.data[0], png.data[4 * 19], png.data[4 * 19 + 1], png.data[3]]).toEqual([0, 255, 255, 255]);
    expect(png.data[4 * 10]).toBe(Math.round((255 * 10) / 19));
    expect(html).not.toContain('<table>');
  });

  it('lists tabular rows as a table', () => {
    const set = { x: { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }, y: { shape: [2], data: Int32Array.of(0, 1) } };
    const html = dataReportHtml('influence', Float32Array.of(1, -1, 2, 0), 2, 2, 1, set, set);
    expect(html).toContain('<table>');
    expect(html).not.toContain('<img');
  });
});
