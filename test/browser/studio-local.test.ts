// attrib studio's "run in browser" in Debian's Chromium (playwright-core): IG on the demo image model
// computed in the page (the library on TF.js wasm, the model fetched from the studio's token-checked
// routes), compared with the server's result for the same input, and the time to the first heatmap.
// Screenshots go to test-artifacts/studio/.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../backend.js';
import { REFERENCE_DIR, removeTempDirs, ROOT, tempDir } from '../reference.js';
import { startStudio, type Studio } from '../../src/cli/studio/server.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'studio');

let studio: Studio;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await useBackend('cpu');
  studio = await startStudio({ models: path.join(ROOT, 'models') });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await studio?.close();
  removeTempDirs();
});

/** Max |a − b| / max |b|. */
function relDiff(a: readonly number[], b: readonly number[]): number {
  let diff = 0;
  let big = 0;
  for (let i = 0; i < b.length; i++) (diff = Math.max(diff, Math.abs(a[i]! - b[i]!))), (big = Math.max(big, Math.abs(b[i]!)));
  expect(big).toBeGreaterThan(0);
  return diff / big;
}

/** The values of a finished in-page card, through its Export JSON link. */
async function exported(page: Page, card: ReturnType<Page['locator']>): Promise<{ shape: number[]; data: number[]; engine: string; diagnostics: { engine: string } }> {
  const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a[download]').click()]);
  return JSON.parse(readFileSync(await download.path(), 'utf8')) as { shape: number[]; data: number[]; engine: string; diagnostics: { engine: string } };
}

it('runs IG in the page with the same values as the server and draws it on the shared colour scale', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
  const wasm: string[] = [];
  page.on('request', (r) => (r.url().endsWith('.wasm') ? wasm.push(r.url()) : undefined));
  await page.goto(studio.url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
  await page.locator('#m-integrated-gradients').check();
  await page.locator('#o-integrated-gradients-steps').fill('32');

  // on the server first: the reference values
  await page.locator('#run').click();
  const serverCard = page.locator('.card.done[data-method="integrated-gradients"]:not([data-engine])');
  await serverCard.locator('img.heatmap').waitFor({ timeout: 15_000 });
  const jobId = await serverCard.getAttribute('data-job');
  const status = (await (await fetch(`${studio.origin}/api/jobs/${jobId}`, { headers: { 'x-attrib-token': studio.token } })).json()) as { result: { shape: number[]; data: number[] }; image: { scales: number[] } };

  // then in the page
  // checking the box loads the engine (/local.js), the wasm backend and the model
  const tp = Date.now();
  await page.locator('#in-browser').check();
  await page.waitForSelector('#in-browser[data-ready="demo-image"]', { timeout: 20_000 });
  const prepareMs = Date.now() - tp;
  const t0 = Date.now();
  await page.locator('#run').click();
  const localCard = page.locator('.card[data-engine="browser"][data-method="integrated-gradients"]');
  await localCard.locator('canvas.heatmap').waitFor({ timeout: 15_000 });
  const firstHeatmapMs = Date.now() - t0;
  // a string, so that vitest does not rewrite the page's import()
  const live = () => page.evaluate<number>("import('/local.js').then((m) => m.liveTensors())");
  const tensors = await live();
  await page.locator('#run').click();
  await page.locator('.card[data-engine="browser"] canvas.heatmap').nth(1).waitFor({ timeout: 15_000 });
  const secondMs = Date.now() - t0 - firstHeatmapMs;
  console.log(`studio in the browser: engine + wasm + model ready ${prepareMs} ms after checking the box; first heatmap (IG-32, demo image, TF.js wasm) ${firstHeatmapMs} ms after "Explain"; the next one ${secondMs} ms`);
  // the acceptance is 2 s on an idle machine; the bound leaves room for a CI run sharing its 2 cores
  expect(firstHeatmapMs).toBeLessThan(5000);
  // a job leaves the page's TF.js as it found it
  expect(await live()).toBe(tensors);
  expect(await localCard.first().locator('dl').textContent()).toContain('browser');
  expect(await localCard.first().locator('dl').textContent()).toContain('completeness gap');

  // the values: exported from the page's card, compared with the server's
  const local = await exported(page, localCard.first());
  expect(local.engine).toBe('browser');
  expect(local.shape).toEqual(status.result.shape);
  const rel = relDiff(local.data, status.result.data);
  console.log(`studio in the browser: max |browser − server| / max |server| = ${rel.toExponential(2)}`);
  expect(rel).toBeLessThan(1e-4);

  // one colour scale over the server's and the page's cards: the largest robust scale of the three
  const serverSrc = await serverCard.locator('img.heatmap').getAttribute('src');
  const serverScale = Number(new URL(serverSrc!, studio.origin).searchParams.get('scale'));
  const localScale = Number(await localCard.first().locator('canvas.heatmap').getAttribute('data-scale'));
  expect(localScale).toBeCloseTo(serverScale, 12);
  expect(serverScale).toBeGreaterThanOrEqual(status.image.scales[0]! * (1 - 1e-6));
  // the wasm binaries came from the studio itself
  expect(wasm.length).toBeGreaterThan(0);
  expect(wasm.every((u) => u.startsWith(`${studio.origin}/wasm/`))).toBe(true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'in-browser.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
}, 30_000);

it('runs IG on an ONNX model in the page (onnxruntime-web, the compiled backward graph) with the server values', async () => {
  // a models folder with one ONNX image model (the reference CNN) and a demo sample beside it
  const dir = tempDir('attrib-studio-onnx-');
  mkdirSync(path.join(dir, 'cnn'));
  copyFileSync(path.join(REFERENCE_DIR, 'models', 'image_cnn', 'model.onnx'), path.join(dir, 'cnn', 'model.onnx'));
  copyFileSync(path.join(ROOT, 'models', 'demo-image', 'sample-1.png'), path.join(dir, 'cnn', 'sample-1.png'));
  const s = await startStudio({ models: dir });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  try {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    await page.goto(s.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
    await page.locator('#m-integrated-gradients').check();
    await page.locator('#o-integrated-gradients-steps').fill('16');
    await page.locator('#run').click();
    const serverCard = page.locator('.card.done[data-method="integrated-gradients"]:not([data-engine])');
    await serverCard.locator('img.heatmap').waitFor({ timeout: 15_000 });
    const status = (await (await fetch(`${s.origin}/api/jobs/${await serverCard.getAttribute('data-job')}`, { headers: { 'x-attrib-token': s.token } })).json()) as { result: { data: number[] } };
    await page.locator('#in-browser').check();
    await page.waitForSelector('#in-browser[data-ready="cnn"]', { timeout: 20_000 }).catch(async (e: unknown) => { throw new Error(`${String(e)}: ${await page.locator('#run-error').textContent()} ${errors.join(' / ')}`); });
    await page.locator('#run').click();
    const localCard = page.locator('.card[data-engine="browser"][data-method="integrated-gradients"]');
    await localCard.locator('canvas.heatmap').waitFor({ timeout: 15_000 });
    const local = await exported(page, localCard);
    expect(local.diagnostics.engine).toContain('onnxruntime-web');
    const rel = relDiff(local.data, status.result.data);
    console.log(`studio in the browser (ONNX): max |browser − server| / max |server| = ${rel.toExponential(2)}`);
    expect(rel).toBeLessThan(1e-4);
    await page.screenshot({ path: path.join(ARTIFACTS, 'in-browser-onnx.png'), fullPage: false });
    expect(errors).toEqual([]);
  } finally {
    await page.close();
    await s.close();
  }
}, 30_000);
