// The studio's HTTP API (Hono): models, samples, uploads, the method catalogue, jobs and their
// results. Every route sits behind `guard` (token, Origin, Host) and the security headers.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { isAttributionError } from '../../core/errors.js';
import { METHODS } from '../../methods.js';
import { normalizeMap } from '../../viz/heatmap.js';
import { curveSvg } from '../../viz/curves.js';
import { engineFor } from '../backend.js';
import { inputFromBytes } from '../inputs.js';
import { heatmapPng, overlayPng } from '../outputs.js';
import { jobStatus, JobQueue } from './jobs.js';
import { addKindRoutes } from './kind-routes.js';
import { modelInfo, notFound, StudioRequestError, type ModelStore } from './models.js';
import { parseJobRequest, runJob, type InputRef } from './run.js';
import { guard, securityHeaders, type Binding } from './security.js';
import type { StudioAssets } from './assets.js';

/** Settings of one studio server. */
export interface StudioOptions {
  readonly store: ModelStore;
  readonly token: string;
  /** Largest upload (and sample) in bytes. */
  readonly maxUploadBytes: number;
  /** Largest image decoded, in pixels. */
  readonly maxPixels: number;
  /** `--engine` of model.json models: auto, onnx or tfjs. */
  readonly engine: string;
  /** The page, its script and its style sheet. */
  readonly assets: StudioAssets;
  /** Where the server listens, once bound (Host and Origin checks). */
  readonly binding: () => Binding | undefined;
  readonly log?: (line: string) => void;
}

const INPUT_TYPES = new Set(['.png', '.jpg', '.jpeg', '.json', '.npy']);
/** Largest model file the page may fetch for the in-browser engine. */
const MAX_MODEL_FILE = 512 * 2 ** 20;
/** Uploads kept at once (the oldest is dropped beyond this). */
const KEEP_UPLOADS = 32;
/** Bytes of uploads kept at once (the newest upload is always kept). */
const UPLOAD_BYTES = 256 * 2 ** 20;

interface Upload {
  readonly model: string;
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** The studio app and its job queue (`close` cancels the jobs). */
export function studioApp(o: StudioOptions): { readonly app: Hono; close(): Promise<void> } {
  const uploads = new Map<string, Upload>();
  const inputBytes = async (model: string, ref: InputRef): Promise<{ bytes: Uint8Array; name: string }> => {
    if ('sample' in ref) return { bytes: await o.store.sample(model, ref.sample, o.maxUploadBytes), name: ref.sample };
    if (!('upload' in ref)) throw notFound('A text input has no file');
    const up = uploads.get(ref.upload);
    if (!up || up.model !== model) throw notFound(`No upload '${ref.upload}' for model '${model}'; upload the file again`, { upload: ref.upload });
    return up;
  };
  const queue = new JobQueue((req, signal, onProgress) => runJob(req, { store: o.store, inputBytes, maxPixels: o.maxPixels, engine: o.engine }, signal, onProgress), o.log);
  const engine = engineFor(o.engine, []).engine;
  const app = new Hono();
  app.use('*', securityHeaders());
  app.use('*', guard(o.token, o.binding));
  app.onError((e, c) => errorResponse(c, e, o.log));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `No route ${c.req.method} ${c.req.path}` } }, 404));

  app.get('/', async (c) => c.html((await o.assets()).html));
  app.get('/app.js', async (c) => c.body((await o.assets()).js, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/local.js', async (c) => c.body(await o.assets.local(), 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  for (const folder of ['wasm', 'ort'] as const) {
    app.get(`/${folder}/:name`, async (c) => {
      const name = c.req.param('name');
      const bytes = await o.assets.engineFile(folder, name);
      if (!bytes) throw notFound(`No engine file '${folder}/${name}'`);
      return c.body(own(bytes), 200, { 'content-type': name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8' });
    });
  }
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/app.css', async (c) => c.body((await o.assets()).css, 200, { 'content-type': 'text/css; charset=utf-8' }));

  app.get('/api/models', async (c) => c.json({ models: await o.store.list() }));
  app.get('/api/methods', (c) =>
    c.json({ methods: METHODS.map((d) => ({ id: d.id, title: d.title, family: d.family, requires: d.requires, output: d.output, cost: d.cost, stochastic: d.stochastic, reference: d.reference, ...(d.layer ? { layer: d.layer } : {}), options: d.options })) }),
  );
  app.get('/api/models/:id', async (c) => {
    const id = c.req.param('id');
    const model = await o.store.acquire(id, engine);
    try {
      return c.json(modelInfo(id, model, await o.store.samples(id), (await o.store.vocabulary(id)) !== undefined));
    } finally {
      await o.store.release(model);
    }
  });
  app.get('/api/models/:id/samples/:name', async (c) => {
    const name = c.req.param('name');
    const bytes = await o.store.sample(c.req.param('id'), name, o.maxUploadBytes);
    const ext = path.extname(name).toLowerCase();
    const type = ext === '.png' ? 'image/png' : ext === '.json' ? 'application/json' : ext === '.npy' ? 'application/octet-stream' : 'image/jpeg';
    return c.body(own(bytes), 200, { 'content-type': type });
  });
  app.get('/api/models/:id/files/:name', async (c) => {
    const name = c.req.param('name');
    const bytes = await o.store.modelFileBytes(c.req.param('id'), name, MAX_MODEL_FILE);
    return c.body(own(bytes), 200, { 'content-type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  });
  app.post(
    '/api/models/:id/inputs',
    bodyLimit({ maxSize: o.maxUploadBytes, onError: (c) => c.json({ error: { code: 'too_large', message: `The upload is over the cap of ${o.maxUploadBytes} bytes` } }, 413) }),
    async (c) => {
      const id = c.req.param('id');
      const name = path.basename(c.req.query('name') ?? '').slice(0, 200);
      if (!INPUT_TYPES.has(path.extname(name).toLowerCase())) {
        return c.json({ error: { code: 'invalid_file', message: `Upload '${name}' must be a .png, .jpg, .json or .npy file` } }, 400);
      }
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      if (bytes.length > o.maxUploadBytes) throw new StudioRequestError(413, `The upload is over the cap of ${o.maxUploadBytes} bytes`);
      const model = await o.store.acquire(id, engine);
      try {
        const input = await inputFromBytes(bytes, name, model, { maxPixels: o.maxPixels });
        const shape = input.x.shape;
        input.x.dispose();
        const upload = randomBytes(8).toString('hex');
        uploads.set(upload, { model: id, name, bytes });
        // the oldest uploads go beyond KEEP_UPLOADS files or UPLOAD_BYTES bytes in all
        let total = 0;
        for (const u of uploads.values()) total += u.bytes.length;
        for (const [k, u] of uploads) {
          if (uploads.size <= KEEP_UPLOADS && total <= UPLOAD_BYTES) break;
          if (k === upload) break;
          uploads.delete(k);
          total -= u.bytes.length;
        }
        return c.json({ id: upload, name, shape, image: input.images !== undefined, ...(input.warnings ? { warnings: input.warnings } : {}) }, 201);
      } finally {
        await o.store.release(model);
      }
    },
  );
  app.post('/api/jobs', bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.json({ error: { code: 'too_large', message: 'A job request is at most 64 KiB' } }, 413) }), async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const job = queue.submit(parseJobRequest(body));
    return c.json(jobStatus(job), 202);
  });
  app.get('/api/jobs/:id', (c) => c.json(jobStatus(queue.get(c.req.param('id')))));
  app.post('/api/jobs/:id/cancel', (c) => c.json(jobStatus(queue.cancel(c.req.param('id')))));
  app.get('/api/jobs/:id/result.json', (c) => {
    const job = queue.get(c.req.param('id'));
    if (!job.outcome) throw notFound(`Job '${job.id}' has no result (${job.state})`);
    const body = JSON.stringify({ ...job.outcome.json, ...(job.outcome.metrics ? { metrics: job.outcome.metrics } : {}) });
    return c.body(body, 200, { 'content-type': 'application/json', 'content-disposition': `attachment; filename="${job.request.method.id}-${job.id}.json"` });
  });
  app.get('/api/jobs/:id/report.html', (c) => {
    const job = queue.get(c.req.param('id'));
    if (!job.outcome) throw notFound(`Job '${job.id}' has no result (${job.state})`);
    return c.body(job.outcome.report, 200, { 'content-type': 'text/html; charset=utf-8', 'content-disposition': `attachment; filename="${job.request.method.id}-${job.id}.html"` });
  });
  app.get('/api/jobs/:id/heatmap.png', (c) => {
    const job = queue.get(c.req.param('id'));
    const img = job.outcome?.image;
    const row = Number(c.req.query('row') ?? 0);
    if (!img || !Number.isInteger(row) || row < 0 || row >= img.maps.length) throw notFound(`Job '${job.id}' has no heatmap for row ${c.req.query('row') ?? 0}`);
    const scaleQ = Number(c.req.query('scale'));
    const norm = normalizeMap(img.maps[row]!, 99.5, scaleQ > 0 && Number.isFinite(scaleQ) ? scaleQ : img.scales[row]!);
    const picture = img.images?.[row];
    const png = c.req.query('view') === 'overlay' && picture ? overlayPng(norm, img.geometry, picture) : heatmapPng(norm, img.geometry);
    const download = c.req.query('download') === '1' ? { 'content-disposition': `attachment; filename="${job.request.method.id}-${job.id}-${row}.png"` } : {};
    return c.body(own(png), 200, { 'content-type': 'image/png', ...download });
  });
  app.get('/api/jobs/:id/curves.svg', (c) => {
    const job = queue.get(c.req.param('id'));
    const m = job.outcome?.metrics;
    const row = Number(c.req.query('row') ?? 0);
    if (!m || !Number.isInteger(row) || !m.deletion.values[row]) throw notFound(`Job '${job.id}' has no curves for row ${c.req.query('row') ?? 0}`);
    const svg = curveSvg(`${job.request.method.id}: deletion (lower AUC better), insertion (higher better)`, [
      { label: `deletion ${m.deletion.auc[row]!.toPrecision(3)}`, xs: m.fractions, ys: m.deletion.values[row]! },
      { label: `insertion ${m.insertion.auc[row]!.toPrecision(3)}`, xs: m.fractions, ys: m.insertion.values[row]! },
    ]);
    return c.body(svg, 200, { 'content-type': 'image/svg+xml' });
  });
  addKindRoutes(app, o.store);
  return { app, close: () => queue.close() };
}

/** Bytes in an ArrayBuffer of their own (what a Response body takes). */
const own = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** An error as JSON `{error: {code, message}}`: 404/413/429 as the error says, 400 for bad input, 500 otherwise. */
function errorResponse(c: Context, e: unknown, log?: (line: string) => void): Response {
  if (e instanceof StudioRequestError) return c.json({ error: { code: e.status === 404 ? 'not_found' : e.status === 413 ? 'too_large' : 'busy', message: e.message } }, e.status);
  if (isAttributionError(e) && e.code !== 'backend_failure') return c.json({ error: { code: e.code, message: e.message } }, 400);
  log?.(`attrib studio: ${(e as Error)?.stack ?? String(e)}`);
  return c.json({ error: { code: 'internal', message: 'internal error (see the studio’s terminal)' } }, 500);
}
