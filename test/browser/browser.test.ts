// The library in a real browser: bundled with esbuild, served on loopback, run in Debian's Chromium
// through playwright-core. Checks Captum parity inside the page (TF.js cpu and onnxruntime-web).
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REFERENCE_DIR, ROOT } from '../reference.js';

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html', '.onnx': 'application/octet-stream', '.bin': 'application/octet-stream' };

let server: Server;
let browser: Browser;
let url = '';

beforeAll(async () => {
  const bundle = await esbuild.build({
    entryPoints: [path.join(ROOT, 'test', 'browser', 'entry.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    external: ['*.wasm'],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const js = bundle.outputFiles[0]!.contents;
  const ortDir = path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
  server = createServer(async (req, res) => {
    const u = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    try {
      let body: Uint8Array | string;
      let file = u;
      if (u === '/') body = '<!doctype html><meta charset="utf-8"><script type="module" src="/bundle.js"></script>';
      else if (u === '/bundle.js') body = js;
      else if (u.startsWith('/ref/')) body = await readFile(path.join(REFERENCE_DIR, path.normalize(u.slice(5)).replace(/^(\.\.[/\\])+/, '')));
      else if (u.startsWith('/ort/')) body = await readFile(path.join(ortDir, path.basename(u)));
      else throw new Error('not found');
      if (u === '/') file = '/index.html';
      res.writeHead(200, { 'content-type': TYPES[path.extname(file === '/bundle.js' ? 'x.js' : file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

it('runs attributions in Chromium with Captum parity (TF.js cpu, onnxruntime-web) and no leaks', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => 'runAttrib' in globalThis, undefined, { timeout: 60_000 });
  const result = (await page.evaluate(() => (globalThis as unknown as { runAttrib: () => Promise<Record<string, number | string>> }).runAttrib())) as Record<string, number>;
  expect(errors).toEqual([]);
  expect(result['tabular IG']).toBeLessThan(1e-4);
  expect(result['image saliency']).toBeLessThan(1e-4);
  expect(result['onnx-web image ablation']).toBeLessThan(1e-4);
  expect(result['onnx-web kernel-shap vs exact']).toBeLessThan(1e-4);
  expect(result['onnx-web IG']).toBeLessThan(1e-4);
  expect(result['exported model IG on onnx-web']).toBeLessThan(1e-4);
  expect(result['leaked tensors']).toBe(0);
  expect(result['weights released']).toBe(1);
  await page.close();
}, 180_000);
