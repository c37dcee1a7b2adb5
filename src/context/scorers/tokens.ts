import { BackendError, CapabilityError } from '../../core/errors.js';
import type { HttpClient } from '../http.js';

/** One response token's log-probability; `[start, end)` in characters, relative to the response start. */
export interface TokenScore {
  readonly start: number;
  readonly end: number;
  readonly logprob: number;
}

/** The protocols spoken to servers. */
export type ApiName = 'completions' | 'vllm' | 'llama.cpp';

/** What a run reads of the scorer's transport: requests sent (forward runs, for a local model), the budget, concurrency. */
export interface ScoringClient {
  readonly endpoint: string;
  readonly requests: number;
  readonly concurrency: number;
  readonly maxRequests: number | undefined;
}

/** The values of `--api`. */
export const API_NAMES: readonly ApiName[] = ['completions', 'vllm', 'llama.cpp'];

/** A server protocol that scores a fixed response after a prompt, token by token, and generates. */
export interface LogProbApi {
  readonly api: ApiName | 'local';
  readonly client: ScoringClient;
  /** The request's `model` field, when set. */
  readonly model: string | undefined;
  /**
   * Log-probabilities of the tokens that overlap `response` when it follows `prompt` (a token that
   * straddles the boundary, such as " Paris" after "Answer:", has a negative `start`).
   */
  responseTokens(prompt: string, response: string): Promise<TokenScore[]>;
  /** HTTP requests one prompt costs when the response has `tokens` tokens. */
  requestsPerPrompt(tokens: number): number;
  /** Greedy continuation of `prompt`, at most `maxTokens` tokens. */
  generate(prompt: string, maxTokens: number): Promise<string>;
}

/** Most tokens accepted in one reply. */
export const MAX_TOKENS = 1_000_000;

/**
 * Token pieces aligned to `text` from its end backwards (so a BOS token, or a tokenizer's added
 * leading space, shifts nothing at the response end): returns the pieces overlapping
 * `[from, text.length)`, with offsets relative to `from`. `lengths[i]` is the length of piece i in
 * the unit of `from` and `total` (characters, or UTF-8 bytes). Pieces whose log-probability is null
 * may only lie before `from`.
 */
export function alignFromEnd(lengths: readonly number[], logprobs: readonly (number | null)[], total: number, from: number, what: string): TokenScore[] {
  const out: TokenScore[] = [];
  let end = total;
  for (let i = lengths.length - 1; i >= 0 && end > from; i--) {
    const start = end - lengths[i]!;
    if (lengths[i]! > 0) {
      const lp = logprobs[i];
      if (typeof lp !== 'number' || !Number.isFinite(lp)) {
        if (lp === null && start <= 0) break; // the first token of the text has no log-probability
        throw new CapabilityError(`${what} gave no finite log-probability for the response token at ${i} (${String(lp)})`, { index: i });
      }
      out.push({ start: start - from, end: end - from, logprob: lp });
    }
    end = start;
  }
  return out.reverse();
}

/** Reads `o[key]` as an array of at most {@link MAX_TOKENS} entries, or undefined. */
export function arrayField(o: unknown, key: string): unknown[] | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return Array.isArray(v) && v.length <= MAX_TOKENS ? v : undefined;
}

/** Reads `o[key]` as an object, or undefined. */
export function objectField(o: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** `choices[0]` of an OpenAI-style reply, or undefined. */
export function firstChoice(reply: unknown): Record<string, unknown> | undefined {
  const c = arrayField(reply, 'choices')?.[0];
  return typeof c === 'object' && c !== null ? (c as Record<string, unknown>) : undefined;
}

/** The generated text of an OpenAI-style completions reply. */
export function choiceText(reply: unknown, url: string): string {
  const text = firstChoice(reply)?.['text'];
  if (typeof text !== 'string') throw new CapabilityError(`${url} answered without choices[0].text; is it an OpenAI-style completions endpoint?`, { url });
  return text;
}

/** Throws `backend_failure` with the server's message when a 200 reply carries an `error` field. */
export function throwIfErrorReply(reply: unknown, url: string): void {
  const e = typeof reply === 'object' && reply !== null ? (reply as { error?: unknown }).error : undefined;
  if (e === undefined || e === null) return;
  const msg = typeof e === 'string' ? e : typeof (e as { message?: unknown }).message === 'string' ? String((e as { message: string }).message) : JSON.stringify(e);
  throw new BackendError(`${url} answered with an error: ${msg.slice(0, 200)}`, { url });
}

/**
 * What the OpenAI-style protocols share (`completions`, `vllm`): one request per prompt, greedy
 * generation by `POST {endpoint}/completions`, and the request's `model` when set.
 */
export abstract class OpenAiStyleApi implements LogProbApi {
  abstract readonly api: ApiName;

  constructor(readonly client: HttpClient, readonly model: string | undefined) {}

  abstract responseTokens(prompt: string, response: string): Promise<TokenScore[]>;

  requestsPerPrompt(_tokens: number): number {
    return 1;
  }

  async generate(prompt: string, maxTokens: number): Promise<string> {
    const reply = await this.client.post('/completions', this.body({ prompt, max_tokens: maxTokens, temperature: 0 }));
    return choiceText(reply, this.client.shown);
  }

  /** A request body with `model` when set. */
  protected body(fields: Record<string, unknown>): Record<string, unknown> {
    return { ...(this.model ? { model: this.model } : {}), ...fields };
  }
}
