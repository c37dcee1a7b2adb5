// attrib studio in Debian's Chromium (playwright-core): the app served by the real server, run as a
// person would: IG and KernelSHAP on the demo image model side by side, a long job cancelled, a bad
// upload refused, a table model's bars, a typed text's tokens. Screenshots go to test-artifacts/studio/ (ignored by git).
import path from 'node:path';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { ARTIFACTS, studioPage, useStudio } from './studio-harness.js';

const ctx = useStudio();

const card = (page: Page, method: string) => page.locator(`.card[data-method="${method}"]`).first();
const heatmapShown = (page: Page, method: string) =>
  page.waitForFunction((m) => {
    const img = document.querySelector<HTMLImageElement>(`.card[data-method="${m}"] img.heatmap`);
    return img !== null && img.complete && img.naturalWidth > 0;
  }, method);

it('runs IG and KernelSHAP side by side, cancels a long job, and shows why an upload is refused', async () => {
  const studio = ctx.studio();
  const { page, errors } = await studioPage(ctx.browser());
  // without the token the page loads but the API refuses it, and the page says why
  await page.goto(`${studio.origin}/`);
  await page.waitForSelector('body[data-ready="error"]', { timeout: 20_000 });
  expect(await page.locator('#model-note').textContent()).toContain('session token');
  expect(await page.locator('#run').isDisabled()).toBe(true);
  await page.goto(studio.url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
  expect(await page.locator('#model').inputValue()).toBe('demo-image');
  expect(await page.locator('#samples button.chosen').getAttribute('data-sample')).toBe('sample-0.png');

  // IG (32 steps) and KernelSHAP (4×4 blocks, prefilled for an image model)
  await page.locator('#m-integrated-gradients').check();
  await page.locator('#o-integrated-gradients-steps').fill('32');
  await page.locator('#m-kernel-shap').check();
  expect(await page.locator('#o-kernel-shap-featureMask').inputValue()).toBe('grid:4');
  const t0 = Date.now();
  await page.locator('#run').click();
  await heatmapShown(page, 'integrated-gradients');
  const firstHeatmapMs = Date.now() - t0;
  await heatmapShown(page, 'kernel-shap');
  console.log(`studio: first heatmap (IG-32, demo image) ${firstHeatmapMs} ms after "Explain"`);
  // the acceptance is 2 s on an idle machine; the bound leaves room for a CI run sharing its 2 cores with other test files
  expect(firstHeatmapMs).toBeLessThan(5000);
  const srcs = await page.locator('.card img.heatmap').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src));
  expect(srcs).toHaveLength(2);
  // one colour scale: both maps are drawn with the same scale, the larger of their own
  const scales = srcs.map((s) => new URL(s).searchParams.get('scale'));
  expect(scales[0]).not.toBeNull();
  expect(scales[0]).toBe(scales[1]);
  expect(await page.locator('#scale').textContent()).toContain('…');
  expect(await card(page, 'integrated-gradients').locator('dl').textContent()).toContain('completeness gap');
  await page.screenshot({ path: path.join(ARTIFACTS, 'heatmaps.png'), fullPage: true });

  // a long job, cancelled while it runs
  await page.locator('#m-integrated-gradients').uncheck();
  await page.locator('#m-kernel-shap').uncheck();
  await page.locator('#m-integrated-gradients').check();
  await page.locator('#o-integrated-gradients-steps').fill('50000');
  await page.locator('#o-integrated-gradients-rule').selectOption('riemann-middle');
  await page.locator('#run').click();
  const long = page.locator('.card[data-method="integrated-gradients"]').first();
  await long.locator('progress[value]').waitFor({ timeout: 10_000 });
  await long.locator("button.cancel").click();
  await page.waitForSelector('.card.cancelled[data-method="integrated-gradients"]', { timeout: 10_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'cancelled.png'), fullPage: true });

  // a file that is no image: the server's reason appears under the upload field
  await page.locator('#upload').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from('this is not a PNG') });
  await page.waitForFunction(() => (document.querySelector('#upload-error')?.textContent ?? '').length > 0);
  expect(await page.locator('#upload-error').textContent()).toContain('neither PNG nor JPEG');
  await page.screenshot({ path: path.join(ARTIFACTS, 'bad-upload.png'), fullPage: true });

  // a table model: the results are bars, one per feature
  await page.locator('#model').selectOption('demo-tabular');
  await page.waitForSelector('#samples button.chosen[data-sample="inputs.json"]');
  await page.locator('#m-integrated-gradients').check();
  await page.locator('#m-kernel-shap').check();
  await page.locator('#run').click();
  await page.locator('.card.done[data-method="kernel-shap"] .bars').waitFor({ timeout: 10_000 });
  await page.locator('.card.done[data-method="integrated-gradients"] .bars').waitFor({ timeout: 10_000 });
  expect(await page.locator('.card[data-method="integrated-gradients"] .barrow').count()).toBe(10);
  expect(await page.locator('.card').count()).toBe(2); // the image model's cards are gone
  await page.screenshot({ path: path.join(ARTIFACTS, 'tabular.png'), fullPage: false });
  // a text model: a typed text, its tokens coloured by their scores
  await page.locator('#model').selectOption('demo-text');
  await page.locator('#text').fill('a great story with boring actors');
  await page.locator('#use-text').click();
  await page.locator('#m-layer-integrated-gradients').check();
  await page.locator('#run').click();
  await page.locator('.card.done[data-method="layer-integrated-gradients"] .tokens .tok').first().waitFor({ timeout: 10_000 });
  expect(await page.locator('.card .tokens .tok').nth(1).textContent()).toBe('great');
  await page.screenshot({ path: path.join(ARTIFACTS, 'text.png'), fullPage: false });
  // the only console errors: the refused calls without the token (403) and the refused upload (400)
  expect(errors.filter((e) => !/status of (400|403)/.test(e))).toEqual([]);
  await page.close();
}, 60_000);
