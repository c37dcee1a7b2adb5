import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startFakeLlm } from '../../test/context-server.js';
import { connect } from './connect.js';
import { HttpClient, serverMessage } from './http.js';

const cfg = { sources: ['A.'], weights: [1], bias: -5, response: 'yes' };

/** A raw server: `handler` answers each request (its index given). */
async function raw(handler: (n: number, res: import('node:http').ServerResponse) => void) {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(++n, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, count: () => n, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

describe('HttpClient', () => {
  it('retries 429 and 503 with backoff, then succeeds; every attempt counts as a request', async () => {
    const s = await startFakeLlm({ ...cfg, fail429: 2, fail503: 1 });
    try {
      const c = new HttpClient(`${s.url}/v1`, { backoffMs: 5 });
      const reply = await c.post('/completions', { prompt: 'x', max_tokens: 3 });
      expect(reply).toMatchObject({ choices: [{ text: 'yes' }] });
      expect(c.requests).toBe(4);
    } finally {
      await s.close();
    }
  });

  it('gives up after the bounded attempts with backend_failure', async () => {
    const s = await startFakeLlm({ ...cfg, fail429: 100 });
    try {
      const c = new HttpClient(`${s.url}/v1`, { backoffMs: 1, attempts: 3 });
      await expect(c.post('/completions', {})).rejects.toMatchObject({ code: 'backend_failure', details: { status: 429 } });
      expect(c.requests).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const s = await raw((_, res) => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => (inFlight--, res.end('{}')), 20);
    });
    try {
      const c = new HttpClient(s.url, { concurrency: 3 });
      await Promise.all(Array.from({ length: 12 }, () => c.post('/', {})));
      expect(most).toBe(3);
      expect(c.requests).toBe(12);
    } finally {
      await s.close();
    }
  });

  it('times out a slow server (retrying), then fails with backend_failure', async () => {
    const s = await raw((_, res) => setTimeout(() => res.end('{}'), 400));
    try {
      const c = new HttpClient(s.url, { timeoutMs: 50, attempts: 2, backoffMs: 1 });
      await expect(c.post('/', {})).rejects.toMatchObject({ code: 'backend_failure', details: { timeoutMs: 50 } });
      expect(c.requests).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('retries a dropped connection, then gives up with backend_failure', async () => {
    let drops = 1;
    const s = await raw((_, res) => (drops-- > 0 ? res.socket?.destroy() : res.end('{"ok":1}')));
    try {
      const c = new HttpClient(s.url, { backoffMs: 1 });
      expect(await c.post('/', {})).toEqual({ ok: 1 });
      expect(c.requests).toBe(2);
      drops = 10;
      await expect(new HttpClient(s.url, { backoffMs: 1, attempts: 2 }).post('/', {})).rejects.toMatchObject({ code: 'backend_failure' });
    } finally {
      await s.close();
    }
  });

  it('a reply whose body stalls past the timeout is retried, then backend_failure', async () => {
    const s = await raw((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices":');
      setTimeout(() => res.end('[]}'), 400);
    });
    try {
      const c = new HttpClient(s.url, { timeoutMs: 60, attempts: 2, backoffMs: 1 });
      await expect(c.post('/', {})).rejects.toMatchObject({ code: 'backend_failure', message: expect.stringMatching(/whole reply.*timed out/) });
      expect(c.requests).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('stops at the request budget with budget_exceeded', async () => {
    const s = await raw((_, res) => res.end('{}'));
    try {
      const c = new HttpClient(s.url, { maxRequests: 2 });
      await c.post('/', {});
      await c.post('/', {});
      await expect(c.post('/', {})).rejects.toMatchObject({ code: 'budget_exceeded' });
      expect(s.count()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('aborts on its signal', async () => {
    const s = await raw((_, res) => setTimeout(() => res.end('{}'), 300));
    try {
      const ac = new AbortController();
      const c = new HttpClient(s.url, { signal: ac.signal });
      const p = c.post('/', {});
      setTimeout(() => ac.abort(), 20);
      await expect(p).rejects.toMatchObject({ code: 'aborted' });
    } finally {
      await s.close();
    }
  });

  it('sends the API key as a bearer token and never puts it in errors', async () => {
    const s = await startFakeLlm({ ...cfg, apiKey: 'sk-secret-123' });
    try {
      const ok = new HttpClient(`${s.url}/v1`, { apiKey: 'sk-secret-123' });
      await ok.post('/completions', { prompt: 'x', max_tokens: 1 });
      expect(s.log[0]?.auth).toBe('Bearer sk-secret-123');
      const bad = new HttpClient(`${s.url}/v1`, { apiKey: 'sk-wrong-456', apiKeyName: 'MY_KEY' });
      const e = await bad.post('/completions', {}).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'invalid_argument', details: { status: 401 } });
      const text = `${String((e as Error).message)} ${JSON.stringify((e as { details: unknown }).details)}`;
      expect(text).toContain('MY_KEY');
      expect(text).not.toContain('sk-wrong-456');
    } finally {
      await s.close();
    }
  });

  it('an endpoint with a query string (?api-version=…, ?key=…) keeps it after the path, and errors do not show its values', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      req.resume();
      req.on('end', () => {
        res.statusCode = req.url?.startsWith('/v1/completions?') ? 200 : 404;
        res.end(res.statusCode === 200 ? '{"ok":1}' : '{"error":{"message":"no such route"}}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await new HttpClient(`${base}/v1/?api-version=2024-02&key=sk-query-789`).post('/completions', {})).toEqual({ ok: 1 });
      expect(seen[0]).toBe('/v1/completions?api-version=2024-02&key=sk-query-789');
      const e = await new HttpClient(`${base}/v2?key=sk-query-789`).post('/completions', {}).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'invalid_argument', details: { status: 404 } });
      expect(`${String((e as Error).message)} ${JSON.stringify((e as { details: unknown }).details)}`).not.toContain('sk-query-789');
      expect(new HttpClient(`${base}/v1?api-version=1&key=sk-query-789`).shown).toBe(`${base}/v1?api-version=…&key=…`);
    } finally {
      await new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
    }
  });

  it('an unreachable endpoint is invalid_argument naming it; a bad URL too', async () => {
    const s = await raw((_, res) => res.end('{}'));
    const url = s.url;
    await s.close(); // nothing listens there now
    await expect(new HttpClient(url).post('/completions', {})).rejects.toMatchObject({ code: 'invalid_argument', details: { url: `${url}/completions` } });
    expect(() => new HttpClient('localhost:8000')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    const e = (() => {
      try {
        return new HttpClient('http://me:hunter2@127.0.0.1:8000/v1');
      } catch (x) {
        return x as Error;
      }
    })();
    expect(e).toMatchObject({ code: 'invalid_argument' });
    expect((e as Error).message).not.toContain('hunter2');
    expect(() => new HttpClient('ftp://x/')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => new HttpClient('http://x/', { concurrency: 0 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('a body that is not JSON is backend_failure', async () => {
    const s = await startFakeLlm({ ...cfg, malformed: true });
    try {
      await expect(new HttpClient(`${s.url}/v1`).post('/completions', {})).rejects.toMatchObject({ code: 'backend_failure' });
    } finally {
      await s.close();
    }
  });

  it('reads the server’s message from OpenAI-style error bodies', () => {
    expect(serverMessage('{"error":{"message":"bad  model"}}')).toBe('bad model');
    expect(serverMessage('{"detail":"nope"}')).toBe('nope');
    expect(serverMessage('plain text')).toBe('plain text');
    expect(serverMessage('')).toBe('no message');
    expect(serverMessage('x'.repeat(500)).length).toBe(200);
  });

  it('connect rejects an unknown api', () => {
    expect(() => connect({ api: 'grpc' as 'vllm', endpoint: 'http://127.0.0.1:1' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
