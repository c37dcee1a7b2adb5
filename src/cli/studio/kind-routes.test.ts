// The studio's components, context and data routes over real loopback HTTP, on the demo folders of
// models/: parity with the reference (components) and with the library's full run (data), the
// supporting sentence on top (context), and the guards: token, Origin, folders inside --models, caps.
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, ROOT, tempDir } from '../../../test/reference.js';
import { nodeKey, referenceCases } from '../../../test/transformers.js';
import { InfluenceFunctions } from '../../data/influence.js';
import { OnnxTrainingModel } from '../../data/onnx/training-model.js';
import { readTensorFile } from '../inputs.js';
import { startStudio, type Studio } from './server.js';

let studio: Studio;
const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const r = await fetch(`${studio.origin}${url}`, { method: 'POST', headers: { 'x-attrib-token': studio.token, 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};

/** The status of a POST declaring a body of `length` bytes (its answer comes before the body is sent). */
const declaredLength = (url: string, length: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: studio.address.port, method: 'POST', path: url, headers: { 'x-attrib-token': studio.token, 'content-type': 'application/json', 'content-length': String(length) } }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.write('{');
  });

beforeAll(async () => {
  await useBackend('cpu');
  studio = await startStudio({ models: path.join(ROOT, 'models') });
});
afterAll(async () => {
  await studio?.close();
  removeTempDirs();
});

describe('the other kinds of attribution in the studio', () => {
  it('lists the transformer and data folders of --models', async () => {
    const r = await fetch(`${studio.origin}/api/kinds`, { headers: { 'x-attrib-token': studio.token } });
    expect(await r.json()).toEqual({ transformers: [{ id: 'demo-components', tokenizer: false }, { id: 'demo-context', tokenizer: true }, { id: 'demo-induction', tokenizer: false }], data: [{ id: 'demo-wine-data' }] });
  });

  it('components: direct logit attribution of the demo transformer matches the PyTorch reference', async () => {
    // models/demo-components is test/fixtures/transformers/models/gpt2_induction
    const c = referenceCases('gpt2_induction')[0]!;
    const r = await post('/api/components', { model: 'demo-components', tokens: c.tokens.join(','), answer: String(c.answer), wrong: String(c.wrong), method: 'direct-logit-attribution' });
    expect(r.status).toBe(200);
    const nodes = r.json['nodes'] as { hook: string; head: number | null; position: number | null; score: number }[];
    const want = new Map(c.methods['direct-logit-attribution']!.nodes.map((n) => [nodeKey(n), n.score]));
    expect(nodes.length).toBe(want.size);
    const scale = Math.max(...[...want.values()].map(Math.abs));
    for (const n of nodes) expect(Math.abs(n.score - want.get(nodeKey(n))!) / scale).toBeLessThan(1e-4);
    // atp needs the corrupt tokens: a 400 with the command's message
    const bad = await post('/api/components', { model: 'demo-components', tokens: c.tokens.join(','), answer: String(c.answer), wrong: String(c.wrong), method: 'atp' });
    expect(bad.status).toBe(400);
    expect((bad.json['error'] as { code: string; message: string }).message).toContain('corrupt');
  });

  it('components: a text on a folder with a tokenizer gives the same scores as its ids, and its tokens', async () => {
    const text = 'Context : Nina lives in Bruges . Query : Where does Nina live ? Answer :';
    const corrupt = text.replace('Bruges', 'Krakow');
    const common = { model: 'demo-context', answer: 'Bruges', wrong: 'Krakow', method: 'atp', nodes: 'z,mlp', perPosition: true };
    const byText = await post('/api/components', { ...common, tokens: text, corrupt });
    expect(byText.status).toBe(200);
    const tokens = byText.json['tokens'] as string[];
    expect(tokens).toEqual(text.split(' '));
    const vocab = (JSON.parse(readFileSync(path.join(ROOT, 'models', 'demo-context', 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
    const ids = (words: string) => words.split(' ').map((t) => vocab[t]).join(',');
    const byIds = await post('/api/components', { ...common, tokens: ids(text), corrupt: ids(corrupt), answer: String(vocab['Bruges']), wrong: String(vocab['Krakow']) });
    expect(byIds.status).toBe(200);
    expect(byIds.json['tokens']).toEqual(tokens);
    const a = byText.json['nodes'] as { score: number; position: number }[];
    expect(new Set(a.map((n) => n.position))).toEqual(new Set(tokens.map((_, i) => i)));
    expect((byIds.json['nodes'] as { score: number }[]).map((n) => n.score)).toEqual(a.map((n) => n.score));
  });

  it('context: leave-one-out on the local fact-lookup model puts the supporting sentence first', async () => {
    const q = (JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'context-local', 'heldout.json'), 'utf8')) as { context: string; query: string; response: string; support: number }[])[0]!;
    const r = await post('/api/context', { model: 'demo-context', context: q.context, query: q.query, response: q.response, method: 'leave-one-out' });
    expect(r.status).toBe(200);
    const scores = (r.json['sources'] as { score: number }[]).map((s) => s.score);
    const sentences = q.context.split('. ').length;
    expect(scores).toHaveLength(sentences);
    expect(scores.indexOf(Math.max(...scores))).toBe(q.support);
    expect((r.json['diagnostics'] as { prompts: number }).prompts).toBe(sentences + 1); // the full prompt and one without each source
  });

  it('data: one test example’s proponents and opponents are its row of the full influence matrix', async () => {
    const r = await post('/api/data', { model: 'demo-wine-data', test: 3, method: 'influence', l2: 0.01, top: 4 });
    expect(r.status).toBe(200);
    const dir = path.join(ROOT, 'models', 'demo-wine-data');
    const read = (a: string) => readTensorFile(path.join(dir, `${a}.npy`), a);
    const [tx, ty, sx, sy] = await Promise.all(['train-x', 'train-y', 'test-x', 'test-y'].map(read));
    const model = await OnnxTrainingModel.load(readFileSync(path.join(dir, 'model.onnx')), { stripSoftmax: true });
    const full = await new InfluenceFunctions(model, { l2: 0.01 }).attribute({ x: tx!, y: ty! }, { x: sx!, y: sy! }, { loss: 'cross-entropy' });
    const n = tx!.shape[0]!;
    const row = Array.from((await full.values.data()).subarray(3 * n, 4 * n));
    full.dispose();
    model.dispose();
    const order = row.map((_, j) => j).sort((a, b) => row[b]! - row[a]!);
    const pro = r.json['proponents'] as { train: number; score: number; x: number[] }[];
    const opp = r.json['opponents'] as { train: number; score: number }[];
    expect(pro.map((p) => p.train)).toEqual(order.slice(0, 4));
    expect(opp.map((p) => p.train)).toEqual(order.slice(-4).reverse());
    for (const p of pro) expect(Math.abs(p.score - row[p.train]!)).toBeLessThan(1e-5 * Math.max(...row.map(Math.abs)));
    expect(pro[0]!.x).toEqual(Array.from(tx!.data.subarray(pro[0]!.train * 13, pro[0]!.train * 13 + 13)));
    expect((r.json['test'] as { index: number; y: number[] }).y).toEqual([sy!.data[3]]);
  });

  it('refuses calls without the token or from another Origin (403), folders outside --models (404), big bodies (413), bad fields (400)', async () => {
    const body = { model: 'demo-wine-data', test: 0 };
    expect((await post('/api/data', body, { 'x-attrib-token': 'nope' })).status).toBe(403);
    expect((await post('/api/data', body, { origin: 'http://evil.example' })).status).toBe(403);
    for (const model of ['../models/demo-wine-data', '/etc', 'demo-image', 'demo-components', 'nope', 7]) expect((await post('/api/data', { ...body, model })).status, String(model)).toBe(404);
    for (const model of ['demo-wine-data', '..', 'demo-context/../demo-components']) expect((await post('/api/components', { model, tokens: '1,2', answer: '1', wrong: '2' })).status, String(model)).toBe(404);
    expect(await declaredLength('/api/context', 600 * 1024)).toBe(413);
    const badTest = await post('/api/data', { ...body, test: 50 });
    expect(badTest.status).toBe(400);
    expect((badTest.json['error'] as { code: string }).code).toBe('invalid_argument');
    expect((await post('/api/data', '[1,2]')).status).toBe(400);
    expect((await post('/api/context', { model: 'demo-context', context: 'A b.', query: 'q', method: 'magic' })).status).toBe(400);
  });

  it('runs one at a time (429 meanwhile) and cancels a run whose request is dropped', async () => {
    // activation patching of every kind of node at every position: over a thousand patched runs
    const c = referenceCases('gpt2_induction')[0]!;
    const q = { model: 'demo-components', tokens: c.tokens.join(','), corrupt: c.corrupt_tokens.join(','), answer: String(c.answer), wrong: String(c.wrong), method: 'activation-patching', nodes: 'z,q,k,v,mlp,resid', perPosition: true };
    const drop = new AbortController();
    const long = fetch(`${studio.origin}/api/components`, { method: 'POST', headers: { 'x-attrib-token': studio.token, 'content-type': 'application/json' }, body: JSON.stringify(q), signal: drop.signal }).catch((e: unknown) => e);
    // poll with a request that fails its own checks (400) when it gets the turn, so that it never runs:
    // 429 as soon as the long run holds the turn
    let busy = await post('/api/data', { model: 'demo-wine-data', test: 0, method: 'none' });
    for (const t0 = Date.now(); busy.status === 400 && Date.now() - t0 < 5_000; ) {
      await new Promise((r) => setTimeout(r, 10));
      busy = await post('/api/data', { model: 'demo-wine-data', test: 0, method: 'none' });
    }
    expect(busy.status).toBe(429);
    expect((busy.json['error'] as { code: string }).code).toBe('busy');
    drop.abort();
    expect(await long).toMatchObject({ name: 'AbortError' });
    // the dropped run stops (its signal): the next run is accepted soon, not after all the patched runs
    const t0 = Date.now();
    let status = 429;
    while (status === 429 && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await post('/api/data', { model: 'demo-wine-data', test: 0, method: 'grad-dot' })).status;
    }
    expect(status).toBe(200);
  });

  it('refuses a folder whose weights or arrays link out of --models (404), as if missing', async () => {
    const root = tempDir();
    const outside = tempDir();
    for (const [name, from, files] of [
      ['tf', path.join(ROOT, 'models', 'demo-components'), ['config.json', 'model.safetensors']],
      ['wine', path.join(ROOT, 'models', 'demo-wine-data'), ['model.onnx', 'train-x.npy', 'train-y.npy', 'test-x.npy', 'test-y.npy']],
    ] as const) {
      mkdirSync(path.join(root, name));
      for (const f of files) copyFileSync(path.join(from, f), path.join(root, name, f));
    }
    // the weights and one array are symlinks to copies outside the folder
    copyFileSync(path.join(root, 'tf', 'model.safetensors'), path.join(outside, 'w.safetensors'));
    rmSync(path.join(root, 'tf', 'model.safetensors'));
    symlinkSync(path.join(outside, 'w.safetensors'), path.join(root, 'tf', 'model.safetensors'));
    copyFileSync(path.join(root, 'wine', 'train-x.npy'), path.join(outside, 'x.npy'));
    rmSync(path.join(root, 'wine', 'train-x.npy'));
    symlinkSync(path.join(outside, 'x.npy'), path.join(root, 'wine', 'train-x.npy'));
    const other = await startStudio({ models: root });
    try {
      const call = async (url: string, body: unknown) => (await fetch(`${other.origin}${url}`, { method: 'POST', headers: { 'x-attrib-token': other.token, 'content-type': 'application/json' }, body: JSON.stringify(body) })).status;
      expect(await call('/api/components', { model: 'tf', tokens: '1,2', answer: '1', wrong: '2' })).toBe(404);
      expect(await call('/api/data', { model: 'wine', test: 0 })).toBe(404);
    } finally {
      await other.close();
    }
  });
});
