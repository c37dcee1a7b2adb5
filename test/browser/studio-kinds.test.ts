// attrib studio's other views in Debian's Chromium: a transformer's components as layer × head heat
// maps, a context's sources highlighted by score, a test example beside its proponents and opponents,
// and a refused request's message in the page. Screenshots go to test-artifacts/studio/.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Page } from 'playwright-core';
import { afterAll, expect, it } from 'vitest';
import { encodeNpy } from '../../src/io/npy.js';
import { exportLayersModel } from '../../src/models/onnx/export/from-layers.js';
import { startStudio } from '../../src/cli/studio/server.js';
import { removeTempDirs, tempDir } from '../reference.js';
import { ARTIFACTS, studioPage, useStudio } from './studio-harness.js';

/**
 * Runs the Data tab on test example `test` with `method`; counts what it shows of the test example,
 * the proponents and the opponents (`shown`: a selector with ROLE for the role).
 */
async function dataRun(page: Page, test: number, method: string, shown: string): Promise<number[]> {
  await page.locator('#tab-data').click();
  await page.locator('#d-method').selectOption(method);
  await page.locator('#d-test').fill(String(test));
  await page.locator('#d-run').click();
  await page.locator('#d-results .card.done').waitFor({ timeout: 20_000 });
  return Promise.all(['test', 'proponent', 'opponent'].map((role) => page.locator(`#d-results ${shown.replace('ROLE', role)}`).count()));
}

const ctx = useStudio();
afterAll(removeTempDirs);

it('shows layer × head maps, highlighted context sources and training-data proponents', async () => {
  const { page, errors } = await studioPage(ctx.browser());
  await page.goto(ctx.studio().url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });

  // components: activation patching of the induction transformer (models/demo-components/README.md)
  await page.locator('#tab-components').click();
  expect(await page.locator('main').first().isHidden()).toBe(true);
  const clean = '0,57,38,17,39,81,68,23,11,59,57,38,17,39,81,68';
  await page.locator('#c-tokens').fill(clean);
  await page.locator('#c-method').selectOption('activation-patching');
  await page.locator('#c-corrupt').fill(clean.replace(',23,', ',22,'));
  await page.locator('#c-answer').fill('23');
  // no wrong answer: the server's reason is shown under the button
  await page.locator('#c-run').click();
  await page.waitForFunction(() => (document.querySelector('#c-error')?.textContent ?? '').length > 0);
  expect(await page.locator('#c-error').textContent()).toContain('--wrong');
  await page.locator('#c-wrong').fill('22');
  await page.locator('#c-run').click();
  await page.locator('#c-results .card.done').waitFor({ timeout: 20_000 });
  expect(await page.locator('#c-error').textContent()).toBe('');
  const kinds = await page.locator('#c-results table.heatmap-grid').evaluateAll((ts) => ts.map((t) => t.getAttribute('data-kind')));
  expect(kinds).toEqual(['z', 'q', 'k', 'v', 'mlp']);
  // the z map: 3 layers × 4 heads, painted cells
  expect(await page.locator('#c-results table[data-kind="z"] tbody tr').count()).toBe(3);
  expect(await page.locator('#c-results table[data-kind="z"] tbody tr').first().locator('td').count()).toBe(4);
  expect(await page.locator('#c-results table[data-kind="z"] td').first().evaluate((td) => getComputedStyle(td).backgroundColor)).toMatch(/^rgb/);
  expect(await page.locator('#c-results ol.top-nodes li').count()).toBe(10);
  await page.screenshot({ path: path.join(ARTIFACTS, 'components.png'), fullPage: true });

  // context: the supporting sentence comes out on top
  await page.locator('#tab-context').click();
  await page.locator('#x-context').fill('Oscar likes cheese. Nina likes soup. Nina lives in Bruges. Yara likes fish. Noah likes rice.');
  await page.locator('#x-query').fill('Where does Nina live?');
  await page.locator('#x-response').fill('Bruges.');
  await page.locator('#x-method').selectOption('leave-one-out');
  await page.locator('#x-run').click();
  await page.locator('#x-results .source.top').waitFor({ timeout: 20_000 });
  expect(await page.locator('#x-results .source').count()).toBe(5);
  expect(await page.locator('#x-results .source.top').textContent()).toBe('Nina lives in Bruges.');
  await page.screenshot({ path: path.join(ARTIFACTS, 'context.png'), fullPage: true });

  // data: test example 3 of the wine set beside its 5 proponents and 5 opponents
  expect(await dataRun(page, 3, 'influence', 'tr.example.ROLE')).toEqual([1, 5, 5]);
  expect(await page.locator('#d-results tr.example.test td').count()).toBe(3 + 13);
  await page.screenshot({ path: path.join(ARTIFACTS, 'data.png'), fullPage: true });
  // a test index past the set: the message is in the page
  await page.locator('#d-test').fill('50');
  await page.locator('#d-run').click();
  await page.waitForFunction(() => (document.querySelector('#d-error')?.textContent ?? '').length > 0);
  expect(await page.locator('#d-error').textContent()).toContain("Field 'test'");

  // back to the feature view
  await page.locator('#tab-features').click();
  expect(await page.locator('main').first().isVisible()).toBe(true);
  expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  await page.close();
}, 60_000);

it('shows an image data set’s test example and its proponents and opponents as thumbnails', async () => {
  // a data folder of 6 × 6 grey images: a softmax regression exported to ONNX, 12 training and 2 test images
  const root = tempDir();
  const dir = path.join(root, 'shapes');
  mkdirSync(dir);
  const init = tfl.initializers.glorotUniform({ seed: 3 });
  const net = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [6, 6, 1] }), tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init })] });
  writeFileSync(path.join(dir, 'model.onnx'), exportLayersModel(net));
  net.dispose();
  const images = (n: number, offset: number) => Float32Array.from({ length: n * 36 }, (_, k) => ((Math.floor(k / 36) + offset) % 3 === (k % 36) % 3 ? 1 : 0) * ((k % 7) / 6));
  const labels = (n: number, offset: number) => Int32Array.from({ length: n }, (_, i) => (i + offset) % 3);
  writeFileSync(path.join(dir, 'train-x.npy'), encodeNpy({ shape: [12, 6, 6, 1], dtype: 'float32', data: images(12, 0) }));
  writeFileSync(path.join(dir, 'train-y.npy'), encodeNpy({ shape: [12], dtype: 'int32', data: labels(12, 0) }));
  writeFileSync(path.join(dir, 'test-x.npy'), encodeNpy({ shape: [2, 6, 6, 1], dtype: 'float32', data: images(2, 1) }));
  writeFileSync(path.join(dir, 'test-y.npy'), encodeNpy({ shape: [2], dtype: 'int32', data: labels(2, 1) }));
  const studio = await startStudio({ models: root });
  try {
    const { page, errors } = await studioPage(ctx.browser());
    await page.goto(studio.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
    expect(await dataRun(page, 1, 'grad-dot', 'figure.example.ROLE canvas.thumb')).toEqual([1, 5, 5]);
    expect(await page.locator('#d-model').inputValue()).toBe('shapes');
    // the thumbnail is the image: 6 × 6, not blank
    const thumb = await page.locator('#d-results figure.example.test canvas.thumb').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      return { w: c.width, h: c.height, grey: new Set(Array.from({ length: d.length / 4 }, (_, p) => d[p * 4]!)).size };
    });
    expect(thumb.w).toBe(6);
    expect(thumb.h).toBe(6);
    expect(thumb.grey).toBeGreaterThan(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'data-images.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  } finally {
    await studio.close();
  }
}, 60_000);
