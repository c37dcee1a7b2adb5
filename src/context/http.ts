import { AbortedError, AttributionError, BackendError, BudgetExceededError, InvalidArgumentError } from '../core/errors.js';

/** How requests to a server are sent. */
export interface HttpOptions {
  /** Requests in flight at once. Default 8. */
  readonly concurrency?: number;
  /** Requests this client may send (retries count); past it, `budget_exceeded`. Default unlimited. */
  readonly maxRequests?: number;
  /** Attempts per request on 429, 5xx and timeouts (the first included). Default 4. */
  readonly attempts?: number;
  /** Delay before the first retry; doubled each time, with jitter, capped at 8 s. Default 250 ms. */
  readonly backoffMs?: number;
  /** Time allowed for one request. Default 120 000 ms. */
  readonly timeoutMs?: number;
  /** Sent as `Authorization: Bearer …`; never logged nor put in errors. */
  readonly apiKey?: string;
  /** Where the key came from, named in the 401 message (e.g. `ATTRIB_API_KEY`). */
  readonly apiKeyName?: string;
  readonly signal?: AbortSignal;
}

/** Largest response body read (bytes). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

const RETRY_CAP_MS = 8000;

/** Connection errors that mean the endpoint is wrong or down (not retried): the user's to fix. */
const UNREACHABLE = new Set(['bad port', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL', 'UND_ERR_INVALID_ARG', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED']);

/**
 * A JSON-over-HTTP client for one endpoint (Node's fetch): a concurrency limit, bounded retries with
 * exponential backoff on 429/5xx/timeouts/dropped connections (honouring `Retry-After` up to 8 s), a request budget, a
 * timeout per request and an abort signal. Counts the requests it sent. Errors are typed and never
 * hold the API key.
 */
export class HttpClient {
  /** Requests sent (each retry counts). */
  requests = 0;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Requests in flight at most. */
  readonly concurrency: number;
  /** The request budget, when there is one. */
  readonly maxRequests: number | undefined;

  /** The endpoint as messages and result files show it: a query's values (a gateway's key, maybe) masked. */
  readonly shown: string;

  constructor(readonly endpoint: string, private readonly opts: HttpOptions = {}) {
    const fn = 'HttpClient';
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch (e) {
      throw new InvalidArgumentError(`Argument 'endpoint' passed to '${fn}' must be an http(s) URL such as http://127.0.0.1:8000/v1, got ${JSON.stringify(endpoint)}`, { arg: 'endpoint', fn }, e);
    }
    if (url.username !== '' || url.password !== '') {
      // fetch refuses such URLs, and they would end up in messages and result files
      throw new InvalidArgumentError(`Argument 'endpoint' passed to '${fn}' must not hold credentials (user:password@); put the key in the API-key environment variable instead`, { arg: 'endpoint', fn });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(`Argument 'endpoint' passed to '${fn}' must use http or https, got ${url.protocol}`, { arg: 'endpoint', fn });
    }
    this.shown = shownUrl(url);
    this.concurrency = opts.concurrency ?? 8;
    this.maxRequests = opts.maxRequests;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) {
      throw new InvalidArgumentError(`Argument 'concurrency' passed to '${fn}' must be a positive integer, got ${opts.concurrency}`, { arg: 'concurrency', fn });
    }
  }

  /** POSTs `body` as JSON to `{endpoint}{path}` and returns the parsed JSON reply. */
  async post(path: string, body: unknown): Promise<unknown> {
    await this.acquire();
    try {
      return await this.send(path, body);
    } finally {
      this.release();
    }
  }

  private async send(path: string, body: unknown): Promise<unknown> {
    // the path goes after the endpoint's path, before its query (?api-version=…); messages show the
    // query's names only, since a gateway may take its key there
    const target = new URL(this.endpoint);
    target.pathname = target.pathname.replace(/\/+$/, '') + path;
    const url = shownUrl(target);
    const attempts = this.opts.attempts ?? 4;
    const timeoutMs = this.opts.timeoutMs ?? 120_000;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) headers['authorization'] = `Bearer ${this.opts.apiKey}`;
    for (let attempt = 1; ; attempt++) {
      this.checkSignal();
      if (this.opts.maxRequests !== undefined && this.requests >= this.opts.maxRequests) {
        throw new BudgetExceededError(`The run needs more than its budget of ${this.opts.maxRequests} requests to ${this.shown}; raise maxRequests (--max-requests) or lower the ablations`, { maxRequests: this.opts.maxRequests });
      }
      this.requests++;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await fetch(target, { method: 'POST', headers, body: JSON.stringify(body), signal });
      } catch (e) {
        this.checkSignal();
        if (timeout.aborted) {
          if (attempt < attempts) {
            await this.pause(attempt, undefined);
            continue;
          }
          throw new BackendError(`${url} did not answer within ${timeoutMs} ms (${attempts} attempts); raise the timeout (--timeout) or lower the concurrency`, { url, timeoutMs, attempts });
        }
        const code = causeCode(e);
        if (!UNREACHABLE.has(code) && attempt < attempts) {
          await this.pause(attempt, undefined); // a dropped connection (ECONNRESET …): transient
          continue;
        }
        if (!UNREACHABLE.has(code)) throw new BackendError(`${url} dropped the connection (${code}) ${attempts} times; check the server's logs, or lower --concurrency`, { url, cause: code, attempts }, e);
        throw new InvalidArgumentError(`Could not connect to ${url} (${code}); check --endpoint and that the server is running`, { url, cause: code }, e);
      }
      if (res.ok) {
        try {
          return await this.json(res, url);
        } catch (e) {
          if (e instanceof AttributionError) throw e;
          this.checkSignal();
          // the body stalled past the timeout, or the connection dropped while it came
          if (attempt < attempts) {
            await this.pause(attempt, undefined);
            continue;
          }
          throw new BackendError(`${url} did not send its whole reply (${timeout.aborted ? `timed out after ${timeoutMs} ms` : causeCode(e)}, ${attempts} attempts); raise the timeout (--timeout) or check the server`, { url, timeoutMs, attempts }, e);
        }
      }
      const text = await readText(res, 4096).catch(() => '');
      if ((res.status === 429 || res.status >= 500) && attempt < attempts) {
        await this.pause(attempt, res.headers.get('retry-after'));
        continue;
      }
      throw httpError(res.status, url, text, this.opts.apiKeyName);
    }
  }

  private async json(res: Response, url: string): Promise<unknown> {
    const text = await readText(res, MAX_BODY_BYTES);
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new BackendError(`${url} answered with a body that is not JSON (${JSON.stringify(text.slice(0, 80))}…); is it the right --endpoint and --api?`, { url }, e);
    }
  }

  private async pause(attempt: number, retryAfter: string | null | undefined): Promise<void> {
    const base = this.opts.backoffMs ?? 250;
    const told = retryAfter != null && /^\d+(\.\d+)?$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
    // jitter from the attempt count and the request counter: deterministic, spreads concurrent retries
    const jitter = 1 + ((this.requests * 0.618) % 1) * 0.5;
    const ms = Math.min(RETRY_CAP_MS, told ?? base * 2 ** (attempt - 1) * jitter);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(done, ms);
      const signal = this.opts.signal;
      function done() {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      const onAbort = () => {
        clearTimeout(t);
        reject(new AbortedError('HttpClient.post', signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private checkSignal(): void {
    if (this.opts.signal?.aborted) throw new AbortedError('HttpClient.post', this.opts.signal.reason);
  }

  private acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** The body of a reply, at most `cap` bytes (larger bodies are an error, not a truncation). */
async function readText(res: Response, cap: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > cap) throw new BackendError(`Server reply of ${declared} bytes exceeds the ${cap}-byte limit`, { declared, cap });
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value: chunk } = await reader.read();
    if (done) break;
    size += chunk.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => undefined);
      if (cap < MAX_BODY_BYTES) break; // error bodies: keep the head only
      throw new BackendError(`Server reply exceeds the ${cap}-byte limit`, { cap });
    }
    chunks.push(chunk);
  }
  // the chunks kept fit in `cap` (the one that crossed it was not kept)
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** The system error code under a fetch failure (ECONNREFUSED …), else the cause's message. */
function causeCode(e: unknown): string {
  const c = e instanceof Error ? (e.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof c?.code === 'string') return c.code;
  if (typeof c?.message === 'string') return c.message;
  return e instanceof Error ? e.message : String(e);
}

function httpError(status: number, url: string, text: string, keyName: string | undefined): AttributionError {
  const said = serverMessage(text);
  if (status === 401 || status === 403) {
    return new InvalidArgumentError(`${url} refused the request (HTTP ${status}: ${said}); set a valid API key in the environment variable ${keyName ?? 'named by --api-key-env'}`, { url, status });
  }
  if (status === 429) return new BackendError(`${url} kept rate-limiting the requests (HTTP 429: ${said}) after retries; lower --concurrency or raise the server's limits`, { url, status });
  if (status === 404) return new InvalidArgumentError(`${url} does not exist (HTTP 404: ${said}); check --endpoint (OpenAI-style servers end in /v1) and --api`, { url, status });
  if (status >= 400 && status < 500) return new InvalidArgumentError(`${url} rejected the request (HTTP ${status}: ${said})`, { url, status, message: said });
  return new BackendError(`${url} failed (HTTP ${status}: ${said}) after retries`, { url, status });
}

/** The error message in an error body (OpenAI's `{error: {message}}`, or the text), shortened. */
export function serverMessage(text: string): string {
  let msg = text;
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const m = typeof j.error === 'object' ? j.error?.message : j.error ?? j.message ?? j.detail;
    if (typeof m === 'string') msg = m;
  } catch {
    // not JSON: the text itself
  }
  msg = msg.replace(/\s+/g, ' ').trim();
  return msg.length > 200 ? `${msg.slice(0, 199)}…` : msg || 'no message';
}

/** `url` with its query's values masked (`?api-version=…&key=…`): what messages and result files show. */
export function shownUrl(url: URL | string): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return String(url).replace(/\?.*$/, '?…');
  }
  if (u.search === '') return u.toString();
  return `${u.origin}${u.pathname}?${[...u.searchParams.keys()].map((k) => `${k}=…`).join('&')}`;
}
