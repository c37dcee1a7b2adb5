// attrib studio's "run in browser" in Debian's Chromium (playwright-core): IG computed in the page (the
// library on TF.js wasm, or onnxruntime-web for an ONNX model; the model fetched from the studio's
// token-checked routes), compared with the server's result for the same input; the time to the first
// heatmap. Screenshots go to test-artifacts/studio/.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, expect, it } from 'vitest';
import { REFERENCE_DIR, removeTempDirs, ROOT, tempDir } from '../reference.js';
import { startStudio, type Studio } from '../../src/cli/studio/server.js';
import { ARTIFACTS, studioPage, useStudio } from './studio-harness.js';

const ctx = useStudio();
afterAll(() => removeTempDirs());

/** Max |a − b| / max |b|. */
function relDiff(a: readonly number[], b: readonly number[]): number {
  let diff = 0;
  let big = 0;
  for (let i = 0; i < b.length; i++) (diff = Math.max(diff, Math.abs(a[i]! - b[i]!))), (big = Math.max(big, Math.abs(b[i]!)));
  expect(big).toBeGreaterThan(0);
  return diff / big;
}

interface ServerStatus {
  readonly result: { readonly shape: number[]; readonly data: number[] };
  readonly image: { readonly scales: number[] };
}

/** Opens the app, runs IG (`steps`) on the server for the chosen model's first sample: its card and its status. */
async function igOnServer(page: Page, studio: Studio, steps: number): Promise<{ card: Locator; status: ServerStatus }> {
  await page.goto(studio.url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
  await page.locator('#m-integrated-gradients').check();
  await page.locator('#o-integrated-gradients-steps').fill(String(steps));
  await page.locator('#run').click();
  const card = page.locator('.card.done[data-method="integrated-gradients"]:not([data-engine])');
  await card.locator('img.heatmap').waitFor({ timeout: 15_000 });
  const res = await fetch(`${studio.origin}/api/jobs/${await card.getAttribute('data-job')}`, { headers: { 'x-attrib-token': studio.token } });
  return { card, status: (await res.json()) as ServerStatus };
}

/** Checks "run in browser" and waits until the engine, its wasm and model `id` are loaded (ms). */
async function checkInBrowser(page: Page, id: string): Promise<number> {
  const t = Date.now();
  await page.locator('#in-browser').check();
  await page.waitForSelector(`#in-browser[data-ready="${id}"]`, { timeout: 20_000 }).catch(async (e: unknown) => {
    throw new Error(`${String(e)}: ${await page.locator('#run-error').textContent()}`);
  });
  return Date.now() - t;
}

/** The values of a finished in-page card, through its Export JSON link. */
async function exported(page: Page, card: Locator): Promise<{ shape: number[]; data: number[]; engine: string; diagnostics: { engine: string } }> {
  const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a[download]').click()]);
  return JSON.parse(readFileSync(await download.path(), 'utf8')) as { shape: number[]; data: number[]; engine: string; diagnostics: { engine: string } };
}

const localCards = (page: Page) => page.locator('.card[data-engine="browser"][data-method="integrated-gradients"]');

it('runs IG in the page with the same values as the server and draws it on the shared colour scale', async () => {
  const studio = ctx.studio();
  const { page, errors } = await studioPage(ctx.browser());
  const wasm: string[] = [];
  page.on('request', (r) => (r.url().endsWith('.wasm') ? wasm.push(r.url()) : undefined));
  const { card: serverCard, status } = await igOnServer(page, studio, 32);

  // checking the box loads the engine (/local.js), the wasm backend and the model; then IG in the page
  const prepareMs = await checkInBrowser(page, 'demo-image');
  const t0 = Date.now();
  await page.locator('#run').click();
  const localCard = localCards(page).first();
  await localCard.locator('canvas.heatmap').waitFor({ timeout: 15_000 });
  const firstHeatmapMs = Date.now() - t0;
  // a string, so that vitest does not rewrite the page's import()
  const live = () => page.evaluate<number>("import('/local.js').then((m) => m.liveTensors())");
  const tensors = await live();
  await page.locator('#run').click();
  await localCards(page).nth(1).locator('canvas.heatmap').waitFor({ timeout: 15_000 });
  const secondMs = Date.now() - t0 - firstHeatmapMs;
  console.log(`studio in the browser: engine + wasm + model ready ${prepareMs} ms after checking the box; first heatmap (IG-32, demo image, TF.js wasm) ${firstHeatmapMs} ms after "Explain"; the next one ${secondMs} ms`);
  // the acceptance is 2 s on an idle machine; the bound leaves room for a CI run sharing its 2 cores
  expect(firstHeatmapMs).toBeLessThan(5000);
  // a job leaves the page's TF.js as it found it
  expect(await live()).toBe(tensors);
  expect(await localCard.locator('dl').textContent()).toContain('browser');
  expect(await localCard.locator('dl').textContent()).toContain('completeness gap');

  // the values: exported from the page's card, compared with the server's
  const local = await exported(page, localCard);
  expect(local.engine).toBe('browser');
  expect(local.shape).toEqual(status.result.shape);
  const rel = relDiff(local.data, status.result.data);
  console.log(`studio in the browser: max |browser − server| / max |server| = ${rel.toExponential(2)}`);
  expect(rel).toBeLessThan(1e-4);

  // one colour scale over the server's and the page's cards: the largest robust scale of them
  const serverScale = Number(new URL((await serverCard.locator('img.heatmap').getAttribute('src'))!, studio.origin).searchParams.get('scale'));
  const localScale = Number(await localCard.locator('canvas.heatmap').getAttribute('data-scale'));
  expect(localScale).toBeCloseTo(serverScale, 12);
  expect(serverScale).toBeGreaterThanOrEqual(status.image.scales[0]! * (1 - 1e-6));
  // the wasm binaries came from the studio itself
  expect(wasm.length).toBeGreaterThan(0);
  expect(wasm.every((u) => u.startsWith(`${studio.origin}/wasm/`))).toBe(true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'in-browser.png'), fullPage: true });
  // what runs on the server only is refused on the card, with the code and what to do
  await page.locator('#baseline').fill('blur:2');
  await page.locator('#run').click();
  const refused = page.locator('.card.failed[data-engine="browser"] p.error');
  await refused.waitFor({ timeout: 10_000 });
  expect(await refused.textContent()).toMatch(/^invalid_argument: Baseline 'blur:2' runs on the server only/);
  expect(errors).toEqual([]);
  await page.close();
}, 30_000);

it('runs IG on an ONNX model in the page (onnxruntime-web, the compiled backward graph) with the server values', async () => {
  // a models folder with one ONNX image model (the reference CNN) and a demo sample beside it
  const dir = tempDir('attrib-studio-onnx-');
  mkdirSync(path.join(dir, 'cnn'));
  copyFileSync(path.join(REFERENCE_DIR, 'models', 'image_cnn', 'model.onnx'), path.join(dir, 'cnn', 'model.onnx'));
  copyFileSync(path.join(ROOT, 'models', 'demo-image', 'sample-1.png'), path.join(dir, 'cnn', 'sample-1.png'));
  const studio = await startStudio({ models: dir });
  const { page, errors } = await studioPage(ctx.browser());
  try {
    const { status } = await igOnServer(page, studio, 16);
    await checkInBrowser(page, 'cnn');
    await page.locator('#run').click();
    await localCards(page).locator('canvas.heatmap').waitFor({ timeout: 15_000 });
    const local = await exported(page, localCards(page));
    expect(local.diagnostics.engine).toContain('onnxruntime-web');
    const rel = relDiff(local.data, status.result.data);
    console.log(`studio in the browser (ONNX): max |browser − server| / max |server| = ${rel.toExponential(2)}`);
    expect(rel).toBeLessThan(1e-4);
    await page.screenshot({ path: path.join(ARTIFACTS, 'in-browser-onnx.png'), fullPage: false });
    expect(errors).toEqual([]);
  } finally {
    await page.close();
    await studio.close();
  }
}, 30_000);
