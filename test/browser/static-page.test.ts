// The library with no attrib server: examples/browser/ (a static page importing the standalone bundle
// dist/browser/attrib.js) served by a plain static file server, opened in Debian's Chromium. The page
// runs IG (32 steps) on the demo image model and draws the heatmap; the values match the same IG run
// in Node. Screenshot in test-artifacts/studio/static-page.png.
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bundleBrowserLibrary } from '../../scripts/build-browser.js';
import { IntegratedGradients } from '../../src/attr/gradient/integrated-gradients.js';
import { loadModel } from '../../src/io/load-model.js';
import { isDifferentiable } from '../../src/models/model.js';
import { readInput } from '../../src/cli/inputs.js';
import { useBackend } from '../backend.js';
import { ROOT } from '../reference.js';
import { launchChromium } from './chromium.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'studio');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.png': 'image/png', '.bin': 'application/octet-stream' };
/** What the static server serves: the example, the demo model, and the bundle (built in memory here). */
const SERVED = ['examples/browser/', 'models/demo-image/'];

let server: Server;
let browser: Browser;
let origin = '';

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await useBackend('cpu');
  const bundle = await bundleBrowserLibrary(false);
  // a plain static file server: GET of files, nothing else (no API, no token)
  server = createServer((req, res) => {
    const rel = path.posix.normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/+/, '');
    const send = (status: number, body: string | Uint8Array, type = 'text/plain') => res.writeHead(status, { 'content-type': type }).end(body);
    if (rel === 'dist/browser/attrib.js') return send(200, bundle, TYPES['.js']);
    if (!SERVED.some((p) => rel.startsWith(p)) || rel.includes('..')) return send(404, 'not found');
    try {
      const file = rel.endsWith('/') ? `${rel}index.html` : rel;
      send(200, readFileSync(path.join(ROOT, file)), TYPES[path.extname(file)] ?? 'application/octet-stream');
    } catch {
      send(404, 'not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

interface PageResult {
  values: number[];
  shape: number[];
  target: number;
  gap: number;
  leaked: number;
}

it('runs IG in a static page with no attrib server, draws the heatmap, and agrees with Node', async () => {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
  await page.goto(`${origin}/examples/browser/`);
  await page.waitForSelector('body[data-done]', { timeout: 30_000 });
  expect(await page.locator('#facts').textContent()).toMatch(/^target \d+, completeness gap/);
  expect(errors).toEqual([]);
  const r = (await page.evaluate(() => (window as unknown as { attribResult: PageResult }).attribResult)) as PageResult;
  expect(r.shape).toEqual([1, 32, 32, 3]);
  expect(r.leaked).toBe(0);
  // the heatmap is drawn: 256 × 256 pixels, not one colour
  const drawn = await page.locator('#heatmap').evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set<number>();
    for (let i = 0; i < d.length; i += 4) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return { w: c.width, h: c.height, colours: colours.size };
  });
  expect(drawn).toMatchObject({ w: 256, h: 256 });
  expect(drawn.colours).toBeGreaterThan(20);
  await page.screenshot({ path: path.join(ARTIFACTS, 'static-page.png') });
  await page.close();

  // the same IG in Node, on the same files
  const dir = path.join(ROOT, 'models', 'demo-image');
  const model = await loadModel(path.join(dir, 'model.json'), { engine: 'tfjs' });
  if (!isDifferentiable(model)) throw new Error('the demo image model has gradients');
  const input = await readInput(path.join(dir, 'sample-0.png'), model);
  const ig = await new IntegratedGradients(model).attribute(input.x, { target: 'auto', steps: 32 });
  const want = await ig.values.data();
  expect(ig.diagnostics.targets?.[0]).toBe(r.target);
  ig.dispose();
  input.x.dispose();
  model.dispose();
  const scale = Math.max(...Array.from(want, Math.abs));
  const diff = Math.max(...r.values.map((v, i) => Math.abs(v - want[i]!)));
  console.log(`static page: IG-32 in the page vs Node, largest difference ${(diff / scale).toExponential(1)} of the largest |value|`);
  expect(diff / scale).toBeLessThan(1e-4);
  expect(Math.abs(r.gap)).toBeLessThan(0.05 * Math.max(1e-6, Math.abs(r.values.reduce((a, b) => a + b, 0))));
}, 60_000);
