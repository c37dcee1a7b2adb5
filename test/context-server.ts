// A fake LLM server for the context-attribution tests: node:http on 127.0.0.1 (port 0), speaking the
// OpenAI-style completions (echo), vLLM (prompt_logprobs) and llama.cpp (/tokenize, /completion)
// protocols over a known log-probability: response log-prob = bias + Σ w_i·[source i in the prompt]
// (+ interactions), spread evenly over the response tokens. Tokens: a word with its leading spaces.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLlmConfig {
  /** Source texts; source i is present when the prompt holds its text. */
  readonly sources: readonly string[];
  readonly weights: readonly number[];
  readonly bias: number;
  /** Extra log-prob when both sources of a pair are present. */
  readonly interactions?: readonly { readonly i: number; readonly j: number; readonly value: number }[];
  /** The response the server expects (its token count spreads the log-prob) and generates. */
  readonly response: string;
  /** The response region starts after the last occurrence of this marker. Default 'Answer:'. */
  readonly marker?: string;
  readonly latencyMs?: number;
  /** The first N requests answer 429 (then 503 for the next `fail503`). */
  readonly fail429?: number;
  readonly fail503?: number;
  /** Refuse max_tokens 0 with a 400 (like OpenAI). */
  readonly refuseZeroMaxTokens?: boolean;
  /** Echo requests are answered without prompt tokens (llama.cpp's /v1/completions). */
  readonly noEcho?: boolean;
  /** Answer every request with a body that is not JSON. */
  readonly malformed?: boolean;
  /** Require `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** llama.cpp: send non-ASCII pieces as arrays of UTF-8 bytes (as llama.cpp does for partial characters). */
  readonly bytePieces?: boolean;
  /** vLLM: prepend a BOS entry (null) to prompt_logprobs. Default true. */
  readonly bos?: boolean;
}

export interface FakeLlm {
  readonly url: string;
  /** Requests received, by path. */
  readonly log: { path: string; body: Record<string, unknown>; auth: string | undefined }[];
  close(): Promise<void>;
}

const OTHER_LOGPROB = -1;

/** Splits text into tokens: each word with the white space before it (trailing white space alone). */
export function fakeTokens(text: string): { text: string; start: number }[] {
  return [...text.matchAll(/\s*\S+|\s+$/g)].map((m) => ({ text: m[0], start: m.index }));
}

export async function startFakeLlm(cfg: FakeLlmConfig): Promise<FakeLlm> {
  const marker = cfg.marker ?? 'Answer:';
  const responseTokens = fakeTokens(` ${cfg.response}`).length;
  const vocab = new Map<string, number>([['<s>', 1]]);
  const pieces = new Map<number, string>([[1, '<s>']]);
  const idOf = (t: string): number => {
    let id = vocab.get(t);
    if (id === undefined) vocab.set(t, (id = vocab.size + 1)), pieces.set(id, t);
    return id;
  };
  const total = (prompt: string): number => {
    const present = cfg.sources.map((s) => prompt.includes(s));
    let v = cfg.bias;
    present.forEach((p, i) => p && (v += cfg.weights[i]!));
    for (const x of cfg.interactions ?? []) if (present[x.i] && present[x.j]) v += x.value;
    return v;
  };
  /** Per-token log-probs of a text: response tokens (after the marker) share the total. */
  const score = (text: string) => {
    const cut = text.lastIndexOf(marker);
    const from = cut < 0 ? Infinity : cut + marker.length;
    const share = total(text.slice(0, from)) / responseTokens;
    return fakeTokens(text).map((t, i) => ({ ...t, logprob: i === 0 ? null : t.start + t.text.length > from ? share : OTHER_LOGPROB }));
  };
  let count = 0;
  const log: FakeLlm['log'] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    const path = req.url ?? '';
    log.push({ path, body, auth: req.headers.authorization });
    const n = ++count;
    if (cfg.latencyMs) await new Promise((r) => setTimeout(r, cfg.latencyMs));
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    if (cfg.apiKey !== undefined && req.headers.authorization !== `Bearer ${cfg.apiKey}`) return send(401, { error: { message: 'Incorrect API key provided' } });
    if (n <= (cfg.fail429 ?? 0)) return send(429, { error: { message: 'Rate limit reached' } });
    if (n <= (cfg.fail429 ?? 0) + (cfg.fail503 ?? 0)) return send(503, { error: { message: 'overloaded' } });
    if (cfg.malformed) return send(200, '<html>gateway</html>');
    if (path === '/v1/completions') {
      const prompt = String(body['prompt']);
      const maxTokens = Number(body['max_tokens']);
      if (maxTokens === 0 && cfg.refuseZeroMaxTokens) return send(400, { error: { message: 'max_tokens must be at least 1' } });
      if (body['prompt_logprobs'] !== undefined) {
        const toks = score(prompt);
        const entries = toks.map((t, i) => (i === 0 ? (cfg.bos === false ? null : { [idOf(t.text)]: { logprob: -2, rank: 1, decoded_token: t.text } }) : { [idOf(t.text)]: { logprob: t.logprob, rank: 1, decoded_token: t.text } }));
        return send(200, { choices: [{ text: ' x', prompt_logprobs: cfg.bos === false ? entries : [null, ...entries] }] });
      }
      if (body['echo'] === true) {
        const toks = score(prompt);
        const gen = maxTokens > 0 ? [{ text: ' x', start: prompt.length, logprob: -3 }] : [];
        if (cfg.noEcho) return send(200, { choices: [{ text: ' x', logprobs: { tokens: [' x'], token_logprobs: [-3], text_offset: [prompt.length] } }] });
        const all = [...toks, ...gen];
        return send(200, { choices: [{ text: gen.map((g) => g.text).join(''), logprobs: { tokens: all.map((t) => t.text), token_logprobs: all.map((t) => t.logprob), text_offset: all.map((t) => t.start) } }] });
      }
      return send(200, { choices: [{ text: cfg.response }] });
    }
    if (path === '/tokenize') {
      const toks = fakeTokens(String(body['content']));
      const piece = (t: string) => (cfg.bytePieces && /[^\x00-\x7f]/.test(t) ? [...Buffer.from(t)] : t);
      return send(200, { tokens: [{ id: 1, piece: '<s>' }, ...toks.map((t) => ({ id: idOf(t.text), piece: piece(t.text) }))] });
    }
    if (path === '/completion') {
      if (!Array.isArray(body['prompt'])) return send(200, { content: ` ${cfg.response}` });
      const ids = body['prompt'] as number[];
      const forced = (body['logit_bias'] as [number, number][])[0]![0];
      const text = [...ids.slice(1), forced].map((id) => pieces.get(id)!).join('');
      const last = score(text).at(-1)!;
      return send(200, { content: pieces.get(forced), completion_probabilities: [{ id: forced, token: pieces.get(forced), logprob: last.logprob, top_logprobs: [] }] });
    }
    send(404, { error: { message: `no route ${path}` } });
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
