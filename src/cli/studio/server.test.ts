// The studio server over real loopback HTTP: its guards (token, Origin, Host), the models folder
// boundary, upload caps and checks, jobs with progress and cancel, heatmaps on one colour scale.
import { promises as fs, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, ROOT, tempDir } from '../../../test/reference.js';
import { startStudio, type Studio } from './server.js';
import { allowedHosts } from './security.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: () => Record<string, unknown>;
}

function call(studio: Studio, method: string, url: string, headers: Record<string, string> = {}, body?: Uint8Array | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: studio.address.port, method, path: url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString('utf8')) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

let studio: Studio;
let small: Studio; // a 4 KiB upload cap
const api = (method: string, url: string, body?: unknown, extra: Record<string, string> = {}) =>
  call(studio, method, url, { 'x-attrib-token': studio.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extra }, body === undefined ? undefined : JSON.stringify(body));

async function waitJob(id: string, until: (s: Record<string, unknown>) => boolean, ms = 20_000): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const s = (await api('GET', `/api/jobs/${id}`)).json();
    if (until(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} stuck in ${JSON.stringify(s['state'])}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  await useBackend('cpu');
  studio = await startStudio({ models: path.join(ROOT, 'models') });
  small = await startStudio({ models: path.join(ROOT, 'models'), maxUploadBytes: 4096 });
});
afterAll(async () => {
  await studio?.close();
  await small?.close();
  removeTempDirs();
});

describe('binding and guards', () => {
  it('listens on 127.0.0.1 only: another loopback address is refused', async () => {
    expect(studio.address.address).toBe('127.0.0.1');
    expect(studio.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    const code = await new Promise<string>((resolve) => {
      const s = connect(studio.address.port, '127.0.0.2');
      s.on('connect', () => (s.destroy(), resolve('connected')));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(code).toBe('ECONNREFUSED');
  });

  it('refuses API calls without the token, with a wrong one, from another Origin or Host (403)', async () => {
    expect((await call(studio, 'GET', '/api/models')).status).toBe(403);
    expect((await call(studio, 'GET', '/api/models', { 'x-attrib-token': 'x'.repeat(32) })).status).toBe(403);
    expect((await call(studio, 'GET', `/api/models?token=${studio.token}x`)).status).toBe(403);
    expect((await api('GET', '/api/models', undefined, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await api('GET', '/api/models', undefined, { origin: `http://127.0.0.1:${studio.address.port + 1}` })).status).toBe(403);
    expect((await api('GET', '/api/models', undefined, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await api('GET', '/api/models', undefined, { host: `evil.example:${studio.address.port}` })).status).toBe(403);
    expect((await call(studio, 'GET', '/', { host: 'rebound.example' })).status).toBe(403);
    // the same calls, done right
    expect((await api('GET', '/api/models', undefined, { origin: studio.origin })).status).toBe(200);
    expect((await api('GET', '/api/models', undefined, { origin: `http://localhost:${studio.address.port}`, host: `localhost:${studio.address.port}` })).status).toBe(200);
    expect((await call(studio, 'GET', `/api/models?token=${studio.token}`)).status).toBe(200);
    // the other studio's token is no key here
    expect((await call(studio, 'GET', '/api/models', { 'x-attrib-token': small.token })).status).toBe(403);
  });

  it('sends a CSP and the other security headers on every response', async () => {
    for (const r of [await call(studio, 'GET', '/'), await api('GET', '/api/models'), await call(studio, 'GET', '/api/models')]) {
      expect(r.headers['content-security-policy']).toContain("default-src 'none'");
      // scripts from the studio only; WebAssembly compiled by the in-browser engine, no JavaScript eval
      expect(r.headers['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval';");
      expect(r.headers['content-security-policy']).not.toContain("'unsafe-eval'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
    }
  });
});

describe('allowed hosts', () => {
  it('names the server by its address, loopback names on loopback, and the request own Host on every interface', () => {
    expect([...allowedHosts({ host: '127.0.0.1', port: 80 })].sort()).toEqual(['127.0.0.1:80', '[::1]:80', 'localhost:80']);
    expect([...allowedHosts({ host: '10.1.2.3', port: 80 })]).toEqual(['10.1.2.3:80']);
    expect([...allowedHosts({ host: '0.0.0.0', port: 80 }, 'My-Box:80')]).toEqual(['my-box:80']);
  });
});

describe('the models folder', () => {
  it('lists the models with their samples, and describes one', async () => {
    const models = (await api('GET', '/api/models')).json()['models'] as { id: string; samples: string[] }[];
    expect(models.map((m) => m.id)).toEqual(['demo-image', 'demo-tabular', 'demo-text', 'demo-wine-data']);
    expect(models[0]!.samples).toContain('sample-0.png');
    const info = (await api('GET', '/api/models/demo-image')).json();
    expect(info['inputShape']).toEqual([null, 32, 32, 3]);
    const sample = await api('GET', '/api/models/demo-image/samples/sample-0.png');
    expect(sample.status).toBe(200);
    expect(sample.body.equals(readFileSync(path.join(ROOT, 'models', 'demo-image', 'sample-0.png')))).toBe(true);
  });

  it('gives 404 for any path outside --models (parents, absolute paths, symlinks out, unlisted files)', async () => {
    for (const url of ['/api/models/..%2Fpackage.json', '/api/models/%2Fetc%2Fpasswd', '/api/models/demo-image%2F..%2F..%2Fpackage.json', '/api/models/demo-image/samples/..%2F..%2Fpackage.json', '/api/models/demo-image/samples/model.json', '/api/models/demo-image/samples/weights.bin', '/api/models/nope', '/api/models/demo-image%2Fbackground.json', '/api/models/demo-image%2Fweights.bin/samples/x.png']) {
      const r = await api('GET', url);
      expect(r.status, url).toBe(404);
      expect(r.body.toString()).not.toContain('"version"');
    }
    // a folder whose model and sample are symlinks to files outside it
    const dir = tempDir('attrib-studio-');
    await fs.mkdir(path.join(dir, 'inside'));
    await fs.symlink(path.join(ROOT, 'models', 'demo-image'), path.join(dir, 'escape'));
    await fs.copyFile(path.join(ROOT, 'models', 'demo-tabular', 'model.json'), path.join(dir, 'inside', 'model.json'));
    await fs.symlink(path.join(ROOT, 'package.json'), path.join(dir, 'inside', 'sample-0.json'));
    // a model folder inside whose model.json (or model.onnx) links out of --models
    await fs.mkdir(path.join(dir, 'linked'));
    await fs.symlink(path.join(ROOT, 'models', 'demo-tabular', 'model.json'), path.join(dir, 'linked', 'model.json'));
    await fs.mkdir(path.join(dir, 'linked-onnx'));
    await fs.symlink(path.join(ROOT, 'package.json'), path.join(dir, 'linked-onnx', 'model.onnx'));
    const s = await startStudio({ models: dir });
    try {
      const get = (url: string) => call(s, 'GET', url, { 'x-attrib-token': s.token });
      expect((await get('/api/models/escape')).status).toBe(404);
      expect((await get('/api/models/escape/samples/sample-0.png')).status).toBe(404);
      expect((await get('/api/models/inside/samples/sample-0.json')).status).toBe(404);
      expect((await get('/api/models/linked')).status).toBe(404);
      expect((await get('/api/models/linked-onnx')).status).toBe(404);
    } finally {
      await s.close();
    }
  });
});

describe('files for the in-browser engine', () => {
  it('serves the model files with the token only, and nothing else of the folder (403, 404)', async () => {
    const mj = await api('GET', '/api/models/demo-image/files/model.json');
    expect(mj.status).toBe(200);
    expect(mj.body.equals(readFileSync(path.join(ROOT, 'models', 'demo-image', 'model.json')))).toBe(true);
    expect((await api('GET', '/api/models/demo-image/files/weights.bin')).body.equals(readFileSync(path.join(ROOT, 'models', 'demo-image', 'weights.bin')))).toBe(true);
    expect((await call(studio, 'GET', '/api/models/demo-image/files/model.json')).status).toBe(403);
    expect((await api('GET', '/api/models/demo-image/files/model.json', undefined, { origin: 'http://evil.example' })).status).toBe(403);
    for (const url of ['/api/models/demo-image/files/labels.json', '/api/models/demo-image/files/..%2F..%2Fpackage.json', '/api/models/demo-image/files/%2Fetc%2Fpasswd', '/api/models/nope/files/model.json', '/api/models/demo-image/files/nope.bin']) {
      expect((await api('GET', url)).status, url).toBe(404);
    }
    // a weights file that is a symlink out of the folder
    const dir = tempDir('attrib-studio-');
    await fs.mkdir(path.join(dir, 'inside'));
    await fs.copyFile(path.join(ROOT, 'models', 'demo-tabular', 'model.json'), path.join(dir, 'inside', 'model.json'));
    await fs.symlink(path.join(ROOT, 'package.json'), path.join(dir, 'inside', 'weights.bin'));
    const s = await startStudio({ models: dir });
    try {
      expect((await call(s, 'GET', '/api/models/inside/files/weights.bin', { 'x-attrib-token': s.token })).status).toBe(404);
      expect((await call(s, 'GET', '/api/models/inside/files/model.json', { 'x-attrib-token': s.token })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('serves the TF.js and onnxruntime-web wasm files from the installed packages, and no other name', async () => {
    const wasm = await call(studio, 'GET', '/wasm/tfjs-backend-wasm-simd.wasm');
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect([...wasm.body.subarray(0, 4)]).toEqual([0, 0x61, 0x73, 0x6d]); // "\0asm"
    const loader = await call(studio, 'GET', '/ort/ort-wasm-simd-threaded.jsep.mjs');
    expect(loader.status).toBe(200);
    expect(loader.headers['content-type']).toContain('text/javascript');
    for (const url of ['/wasm/..%2F..%2Fpackage.json', '/wasm/other.wasm', '/wasm/tf-backend-wasm.node.js', '/ort/ort.node.min.js', '/ort/..%2Fpackage.json', '/ort/ort-wasm-simd-threaded.wasm.map']) expect((await call(studio, 'GET', url)).status, url).toBe(404);
  });
});

describe('uploads', () => {
  const png = readFileSync(path.join(ROOT, 'models', 'demo-image', 'sample-1.png'));
  const up = (s: Studio, name: string, body: Uint8Array) => call(s, 'POST', `/api/models/demo-image/inputs?name=${name}`, { 'x-attrib-token': s.token, 'content-type': 'application/octet-stream' }, body);

  it('refuses an upload over the cap with 413, before reading it whole', async () => {
    const r = await up(small, 'big.png', new Uint8Array(4097));
    expect(r.status).toBe(413);
    expect((r.json()['error'] as { code: string }).code).toBe('too_large');
    expect((await up(small, 'ok.png', png)).status).toBe(201);
  });

  it('checks an upload as the CLI checks an input file (400 with the code)', async () => {
    const bad = await up(studio, 'bad.png', new TextEncoder().encode('not a png at all'));
    expect(bad.status).toBe(400);
    expect(bad.json()['error']).toMatchObject({ code: 'invalid_file' });
    const shape = await up(studio, 'x.json', new TextEncoder().encode(JSON.stringify({ shape: [1, 4], data: [1, 2, 3, 4] })));
    expect(shape.status).toBe(400);
    expect(shape.json()['error']).toMatchObject({ code: 'shape_mismatch' });
    expect((await up(studio, 'x.exe', png)).status).toBe(400);
    const ok = await up(studio, 'cat.png', png);
    expect(ok.status).toBe(201);
    expect(ok.json()).toMatchObject({ name: 'cat.png', shape: [1, 32, 32, 3], image: true });
  });
});

describe('jobs', () => {
  it('runs IG and KernelSHAP: result JSON, heatmaps on one colour scale, deletion/insertion', async () => {
    const ig = (await api('POST', '/api/jobs', { model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'integrated-gradients', options: { steps: 32 }, metrics: true })).json();
    const ks = (await api('POST', '/api/jobs', { model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'kernel-shap', options: { featureMask: 'grid:4', samples: '200', seed: 1 } })).json();
    const a = await waitJob(ig['id'] as string, (s) => s['state'] !== 'queued' && s['state'] !== 'running');
    const b = await waitJob(ks['id'] as string, (s) => s['state'] !== 'queued' && s['state'] !== 'running');
    expect([a['state'], b['state']]).toEqual(['done', 'done']);
    const r = a['result'] as { target: number[]; shape: number[]; data: number[]; scores: number[]; diagnostics: { convergenceDelta: number[] } };
    expect(r.shape).toEqual([1, 32, 32, 3]);
    expect(Math.abs(r.diagnostics.convergenceDelta[0]!)).toBeLessThan(0.05 * Math.abs(r.scores[0]!));
    // KernelSHAP and IG both split f(x) − f(baseline): their sums agree (each 4×4×3 block's 48 elements carry the block's value)
    const sum = (d: number[]) => d.reduce((s, v) => s + v, 0);
    expect(sum((b['result'] as { data: number[] }).data) / 48).toBeCloseTo(sum(r.data), 1);
    const m = a['metrics'] as { deletion: { auc: number[] }; insertion: { auc: number[] } };
    expect(m.insertion.auc[0]!).toBeGreaterThan(m.deletion.auc[0]!);
    const scales = [(a['image'] as { scales: number[] }).scales[0]!, (b['image'] as { scales: number[] }).scales[0]!];
    const shared = Math.max(...scales);
    const heat = async (id: string, q: string) => PNG.sync.read((await api('GET', `/api/jobs/${id}/heatmap.png?${q}`)).body);
    const own = await heat(ks['id'] as string, '');
    const common = await heat(ks['id'] as string, `scale=${shared * 4}`);
    expect([own.width, own.height]).toEqual([256, 256]);
    // a larger scale pales the map: the strongest colour is closer to white
    const maxDist = (p: PNG) => Math.max(...Array.from({ length: p.width * p.height }, (_, i) => 3 * 247 - p.data[4 * i]! - p.data[4 * i + 1]! - p.data[4 * i + 2]!).map(Math.abs));
    expect(maxDist(common)).toBeLessThan(maxDist(own));
    expect((await api('GET', `/api/jobs/${ig['id'] as string}/heatmap.png?view=overlay`)).headers['content-type']).toBe('image/png');
    const exported = await api('GET', `/api/jobs/${ig['id'] as string}/result.json`);
    expect(exported.headers['content-disposition']).toContain('attachment');
    expect(exported.json()).toMatchObject({ method: 'integrated-gradients', metrics: { fractions: expect.any(Array) } });
    expect((await api('GET', `/api/jobs/${ig['id'] as string}/curves.svg`)).body.toString()).toContain('<svg');
    const report = await api('GET', `/api/jobs/${ig['id'] as string}/report.html`);
    expect(report.headers['content-disposition']).toContain('attachment');
    expect(report.body.toString()).toContain('data:image/png;base64,');
  });

  it('cancels a long job through its AbortSignal, and the queue goes on', async () => {
    const long = (await api('POST', '/api/jobs', { model: 'demo-image', input: { sample: 'sample-1.png' }, method: 'integrated-gradients', options: { steps: 50000, rule: 'riemann-middle' } })).json();
    await waitJob(long['id'] as string, (s) => s['state'] === 'running' && (s['progress'] as { done: number } | undefined) !== undefined);
    const t0 = Date.now();
    expect((await api('POST', `/api/jobs/${long['id'] as string}/cancel`)).status).toBe(200);
    const s = await waitJob(long['id'] as string, (x) => x['state'] !== 'running');
    expect(s['state']).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(5000);
    const next = (await api('POST', '/api/jobs', { model: 'demo-image', input: { sample: 'sample-1.png' }, method: 'saliency' })).json();
    expect((await waitJob(next['id'] as string, (x) => x['state'] === 'done' || x['state'] === 'failed'))['state']).toBe('done');
  });

  it('runs a wrapper with its inner method, a layer method on a named layer, and a rules method (TF.js)', async () => {
    const submit = async (body: Record<string, unknown>) => waitJob((await api('POST', '/api/jobs', { model: 'demo-image', input: { sample: 'sample-2.png' }, ...body })).json()['id'] as string, (x) => x['state'] === 'done' || x['state'] === 'failed');
    const nt = await submit({ method: 'noise-tunnel', options: { inner: 'integrated-gradients', samples: 2, steps: 8, stdevs: 0.05, seed: 3 } });
    expect(nt['state']).toBe('done');
    expect((nt['result'] as { method: string }).method).toBe('noise-tunnel');
    const cam = await submit({ method: 'layer-gradcam', layer: 'conv2' });
    expect(cam['state']).toBe('done');
    expect((cam['result'] as { layer: string }).layer).toBe('conv2');
    const gb = await submit({ method: 'guided-backprop' });
    expect(gb['state'], JSON.stringify(gb['error'])).toBe('done');
    expect((gb['result'] as { diagnostics: { engine: string } }).diagnostics.engine).toBe('tfjs');
    expect((gb['image'] as { rows: number }).rows).toBe(1);
  });

  it('explains a text with the vocabulary beside the model: one score per token (the embedding attribution summed per position)', async () => {
    expect((await api('GET', '/api/models/demo-text')).json()).toMatchObject({ text: true });
    expect((await api('GET', '/api/models/demo-image')).json()['text']).toBeUndefined();
    const j = (await api('POST', '/api/jobs', { model: 'demo-text', input: { text: 'a great story with boring actors' }, method: 'layer-integrated-gradients', options: { steps: 32 } })).json();
    const s = await waitJob(j['id'] as string, (x) => x['state'] === 'done' || x['state'] === 'failed');
    expect(s['state'], JSON.stringify(s['error'])).toBe('done');
    const r = s['result'] as { tokens: { token: string; score: number }[][]; positionScores: number[]; diagnostics: { convergenceDelta: number[] } };
    expect(r.tokens[0]!.slice(0, 6).map((t) => t.token)).toEqual(['a', 'great', 'story', 'with', 'boring', 'actors']);
    const scores = r.tokens[0]!.map((t) => t.score);
    expect(scores[1]!).toBeGreaterThan(0); // 'great' speaks for the predicted class
    r.positionScores.slice(0, scores.length).forEach((p, k) => expect(p).toBeCloseTo(scores[k]!, 5));
    expect((await api('GET', `/api/jobs/${j['id'] as string}/report.html`)).body.toString()).toContain('class="tok"');
    const img = (await api('POST', '/api/jobs', { model: 'demo-image', input: { text: 'hello' }, method: 'saliency' })).json();
    expect((await waitJob(img['id'] as string, (x) => x['state'] === 'failed'))['error']).toMatchObject({ code: 'invalid_argument' });
  });

  it('refuses bad jobs with 400 and the error code', async () => {
    const bad = async (body: unknown) => {
      const r = await api('POST', '/api/jobs', body);
      expect(r.status).toBe(400);
      return (r.json()['error'] as { code: string }).code;
    };
    expect(await bad({ model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'nope' })).toBe('unknown_method');
    expect(await bad({ model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'integrated-gradients', options: { steps: 0 } })).toBe('invalid_argument');
    expect(await bad({ model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'integrated-gradients', options: { window: '3' } })).toBe('invalid_argument');
    expect(await bad({ model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'kernel-shap', options: { featureMask: '/etc/passwd' } })).toBe('invalid_argument');
    expect(await bad({ model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'saliency', baseline: '/etc/passwd' })).toBe('invalid_argument');
    expect(await bad({ model: 'demo-image', input: { sample: 'sample-0.png' }, method: 'saliency', baseline: '1e999' })).toBe('invalid_argument'); // not finite: would be read as a file name
    expect(await bad({ model: 'demo-image', input: 'sample-0.png', method: 'saliency' })).toBe('invalid_argument');
    expect(await bad('not an object')).toBe('invalid_argument');
    // a job whose input is missing fails as a job, with the code
    const j = (await api('POST', '/api/jobs', { model: 'demo-image', input: { upload: 'nope' }, method: 'saliency' })).json();
    expect((await waitJob(j['id'] as string, (x) => x['state'] === 'failed'))['error']).toMatchObject({ code: 'invalid_argument' });
  });

  it('leaves no TF.js tensors behind once closed', async () => {
    const before = tf.memory().numTensors; // the other studios keep their models loaded
    const s = await startStudio({ models: path.join(ROOT, 'models'), engine: 'tfjs' });
    const get = (url: string) => call(s, 'GET', url, { 'x-attrib-token': s.token });
    const post = (url: string, body: unknown) => call(s, 'POST', url, { 'x-attrib-token': s.token, 'content-type': 'application/json' }, JSON.stringify(body));
    const j = JSON.parse((await post('/api/jobs', { model: 'demo-tabular', input: { sample: 'inputs.json' }, method: 'integrated-gradients', metrics: true })).body.toString()) as { id: string };
    for (let k = 0; k < 400; k++) {
      const st = JSON.parse((await get(`/api/jobs/${j.id}`)).body.toString()) as { state: string };
      if (st.state === 'done' || st.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const done = JSON.parse((await get(`/api/jobs/${j.id}`)).body.toString()) as Record<string, unknown>;
    expect(done['state']).toBe('done');
    expect(done['image']).toBeUndefined(); // a table: no heatmap
    await s.close();
    expect(tf.memory().numTensors).toBe(before);
  });
});
