// npm run bench:studio — issue 18's figure: the time from clicking "Explain" to the first heatmap of
// the demo image model (IG, 32 steps) in attrib studio, in Debian's Chromium (playwright-core).
// `attrib studio --models models --port 0` runs as its own process, as a user starts it (from the
// sources with tsx, or STUDIO_BIN=bin/attrib.js after `npm run build`). Each of RUNS (default 7)
// opens a fresh page, checks IG with 32 steps and clicks Explain; the time is taken in the page,
// from the click to the heatmap image decoded. The first run includes the server loading the model
// and TF.js warming up ("cold"); the median is over the runs after it ("warm").
// IN_BROWSER=1 times the "run in browser" mode instead (the engine is loaded before the click).
// Meaningful only on an otherwise idle machine.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/browser/chromium.js';
import { ROOT } from '../test/reference.js';

const RUNS = Math.max(2, Number(process.env['RUNS'] ?? 7));
const IN_BROWSER = process.env['IN_BROWSER'] === '1';
const bin = process.env['STUDIO_BIN'];
const args = [...(bin ? [path.resolve(bin)] : ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts')]), 'studio', '--models', path.join(ROOT, 'models'), '--port', '0'];
const studio = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((resolve, reject) => {
  let text = '';
  studio.stdout.on('data', (d: Buffer) => {
    text += d.toString();
    const m = text.match(/attrib studio: (http:\/\/\S+)/);
    if (m) resolve(m[1]!);
  });
  studio.once('exit', (code) => reject(new Error(`attrib studio exited (${code}) before printing its URL`)));
});

/** One run in a fresh page: ms from the click to the first heatmap shown. */
async function once(page: Page): Promise<number> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
  await page.locator('#m-integrated-gradients').check();
  await page.locator('#o-integrated-gradients-steps').fill('32');
  if (IN_BROWSER) {
    await page.locator('#in-browser').check();
    await page.waitForSelector('#in-browser[data-ready]', { timeout: 60_000 });
  }
  // timed in the page: the click's event time to the moment the heatmap (img or canvas) is there
  // (a string: tsx's helpers do not exist in the page)
  const timing = page.evaluate<number>(`new Promise((resolve) => {
    const run = document.querySelector('#run');
    let t0 = 0;
    run.addEventListener('click', () => (t0 = performance.now()), { capture: true, once: true });
    const sel = '.card[data-method="integrated-gradients"]';
    const check = () => {
      const img = document.querySelector(sel + ' img.heatmap');
      const canvas = document.querySelector(sel + ' canvas.heatmap');
      if (t0 > 0 && ((img && img.complete && img.naturalWidth > 0) || canvas)) resolve(performance.now() - t0);
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  })`);
  await page.locator('#run').click();
  return timing;
}

const browser = await launchChromium();
const times: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    times.push(await once(page));
    await page.close();
  }
} finally {
  await browser.close();
  // SIGTERM, and wait: a studio left running would keep the terminal (its stderr) open
  const exited = new Promise((resolve) => studio.once('exit', resolve));
  studio.kill('SIGTERM');
  await exited;
}
const warm = times.slice(1).sort((a, b) => a - b);
const median = warm[Math.floor((warm.length - 1) / 2)]!;
const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
process.stdout.write(
  `studio first heatmap, IG-32 on demo-image${IN_BROWSER ? ' (run in browser)' : ''}: cold ${f(times[0]!)}; warm median ${f(median)} (min ${f(warm[0]!)}, max ${f(warm.at(-1)!)}, ${warm.length} runs); acceptance: within 2 s\n`,
);
