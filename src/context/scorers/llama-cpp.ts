import { CapabilityError } from '../../core/errors.js';
import type { HttpClient } from '../http.js';
import { alignFromEnd, arrayField, type LogProbApi, type TokenScore } from './tokens.js';

/**
 * llama.cpp's server: `POST /tokenize` (`with_pieces`) splits prompt + response into tokens; then each
 * response token k is forced in turn: `POST /completion` with the token ids before it as the prompt
 * (`cache_prompt: true`, so the server reuses the KV cache of the previous, one-token-shorter
 * request), `n_predict: 1`, `n_probs: 1` and a large `logit_bias` on token k. llama.cpp reports the
 * sampled token's probability before sampling (`post_sampling_probs: false`), i.e. the model's own
 * log p(token k | prefix), which the bias does not change.
 *
 * Cost: 1 + T requests per prompt scored, T = response tokens, sent one after another; with the prompt
 * cache the server pre-fills each ablated prompt once and then decodes one token per request. Start the
 * server with at least as many slots (`-np`) as the client's concurrency, or the slots evict each
 * other's caches and every request pre-fills the whole prompt again.
 */
export class LlamaCppApi implements LogProbApi {
  readonly api = 'llama.cpp' as const;

  constructor(readonly client: HttpClient, readonly model: string | undefined) {}

  async responseTokens(prompt: string, response: string): Promise<TokenScore[]> {
    const url = this.client.shown;
    const text = prompt + response;
    const reply = await this.client.post('/tokenize', { content: text, add_special: true, with_pieces: true });
    const toks = arrayField(reply, 'tokens');
    if (!toks) throw new CapabilityError(`${url}/tokenize answered without 'tokens'; is it llama.cpp's server (use --api completions or vllm otherwise)?`, { url });
    const ids: number[] = [];
    const lengths: number[] = [];
    for (const [i, t] of toks.entries()) {
      const id = (t as { id?: unknown } | null)?.id;
      const piece = (t as { piece?: unknown } | null)?.piece;
      if (typeof id !== 'number' || !(typeof piece === 'string' || Array.isArray(piece))) {
        throw new CapabilityError(`${url}/tokenize gave no {id, piece} for token ${i}; llama.cpp's server needs 'with_pieces' support (build b3500 or later)`, { url, index: i });
      }
      ids.push(id);
      lengths.push(typeof piece === 'string' ? utf8Length(piece) : piece.length);
    }
    // byte offsets: pieces may be partial UTF-8 sequences
    const from = utf8Length(prompt);
    const total = utf8Length(text);
    const marks = alignFromEnd(lengths, lengths.map(() => 0), total, from, `${url}/tokenize`);
    const first = ids.length - marks.length;
    const scores: TokenScore[] = [];
    for (let k = first; k < ids.length; k++) {
      if (k === 0) throw new CapabilityError(`The response starts the text, so its first token has no context to be scored in; use a template with text before the response`, { url });
      const out = await this.client.post('/completion', {
        prompt: ids.slice(0, k),
        n_predict: 1,
        n_probs: 1,
        temperature: 0,
        cache_prompt: true,
        post_sampling_probs: false,
        logit_bias: [[ids[k]!, 1e4]],
      });
      const m = marks[k - first]!;
      scores.push({ start: charOffset(response, m.start), end: charOffset(response, m.end), logprob: forcedLogprob(out, ids[k]!, url) });
    }
    return scores;
  }

  requestsPerPrompt(tokens: number): number {
    return 1 + tokens;
  }

  async generate(prompt: string, maxTokens: number): Promise<string> {
    const reply = await this.client.post('/completion', { prompt, n_predict: maxTokens, temperature: 0, cache_prompt: true });
    const content = (reply as { content?: unknown } | null)?.content;
    if (typeof content !== 'string') throw new CapabilityError(`${this.client.shown}/completion answered without 'content'; is it llama.cpp's server?`, { url: this.client.shown });
    return content;
  }
}

/** log p of the forced token from `completion_probabilities[0]` (`{id, logprob}`, llama.cpp b4300+). */
function forcedLogprob(reply: unknown, id: number, url: string): number {
  const entry = arrayField(reply, 'completion_probabilities')?.[0];
  const got = typeof entry === 'object' && entry !== null ? (entry as { id?: unknown; logprob?: unknown }) : undefined;
  if (got?.id === id && typeof got.logprob === 'number' && Number.isFinite(got.logprob)) return got.logprob;
  const top = arrayField(entry, 'top_logprobs')?.find((t) => (t as { id?: unknown } | null)?.id === id) as { logprob?: unknown } | undefined;
  if (typeof top?.logprob === 'number' && Number.isFinite(top.logprob)) return top.logprob;
  throw new CapabilityError(`${url}/completion did not report the forced token's log-probability (completion_probabilities[0].{id, logprob}); llama.cpp b4300 or later is needed`, { url, id });
}

/** The character offset in `s` of UTF-8 byte offset `b` (negative offsets lie before `s`: kept as is). */
function charOffset(s: string, b: number): number {
  if (b <= 0) return b;
  let bytes = 0;
  let i = 0;
  for (const ch of s) {
    if (bytes >= b) break;
    bytes += utf8Length(ch);
    i += ch.length;
  }
  return i;
}

const encoder = new TextEncoder();
/** UTF-8 length in bytes. */
const utf8Length = (s: string): number => encoder.encode(s).length;
