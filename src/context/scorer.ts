import { InvalidArgumentError } from '../core/errors.js';
import type { LogProbApi, TokenScore } from './scorers/tokens.js';

/**
 * Where scored prompts are kept between runs, by key parts (api, endpoint, model, prompt, response):
 * `ScoreCache` (from `attrib/node`) keeps them on disk.
 */
export interface ScoreStore {
  get(parts: readonly (string | undefined)[]): Promise<readonly TokenScore[] | undefined>;
  set(parts: readonly (string | undefined)[], tokens: readonly TokenScore[]): Promise<void>;
}

/** log(p / (1 − p)) for p = exp(logp), stable for logp near 0 and very negative. */
export function logitOfLogProb(logp: number): number {
  const lp = Math.min(logp, -1e-12);
  // log(1 − e^x): expm1 near 0, log1p(−e^x) further out
  const log1mexp = lp > -Math.LN2 ? Math.log(-Math.expm1(lp)) : Math.log1p(-Math.exp(lp));
  return lp - log1mexp;
}

/** Which part of the response is scored: characters `[start, end)` of the response. */
export interface ResponseSpan {
  readonly start: number;
  readonly end: number;
}

/**
 * The log-probability of a fixed response (or of a span of it, LAQuer-style localized queries) after
 * any prompt: the sum of the log-probabilities of the response tokens that overlap the span. Caches
 * every scored prompt in memory and, when given a {@link ScoreStore}, on disk; counts the prompts it
 * had to send.
 */
export class ResponseLogProb {
  /** Prompts scored by the server (cache hits excluded). */
  prompts = 0;
  /** Prompts answered from the cache (memory or disk). */
  cacheHits = 0;
  /** Tokens of the span in the last scored prompt (the response's tokenization does not depend on the context). */
  scoredTokens = 0;
  /** Tokens of the whole response in the last scored prompt. */
  responseTokens = 0;
  readonly span: ResponseSpan;
  private readonly memo = new Map<string, Promise<readonly TokenScore[]>>();

  constructor(
    private readonly api: LogProbApi,
    readonly response: string,
    span?: ResponseSpan,
    private readonly cache?: ScoreStore,
  ) {
    const fn = 'ResponseLogProb';
    if (typeof response !== 'string' || response.length === 0) {
      throw new InvalidArgumentError(`Argument 'response' passed to '${fn}' must be a non-empty text`, { arg: 'response', fn });
    }
    this.span = span ?? { start: 0, end: response.length };
    const { start, end } = this.span;
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start < end && end <= response.length)) {
      throw new InvalidArgumentError(`Argument 'span' passed to '${fn}' must be [start, end) with 0 ≤ start < end ≤ ${response.length} (the response's length), got [${start}, ${end})`, { arg: 'span', fn });
    }
  }

  /** Sum of log p over the scored tokens after `prompt`. */
  async of(prompt: string): Promise<number> {
    let p = this.memo.get(prompt);
    if (p) this.cacheHits++;
    else {
      p = this.tokens(prompt);
      this.memo.set(prompt, p);
    }
    return this.sum(await p);
  }

  private async tokens(prompt: string): Promise<readonly TokenScore[]> {
    const key = [this.api.api, this.api.client.endpoint, this.api.model, prompt, this.response];
    const hit = await this.cache?.get(key);
    if (hit) {
      this.cacheHits++;
      return hit;
    }
    this.prompts++;
    const t = await this.api.responseTokens(prompt, this.response);
    await this.cache?.set(key, t);
    return t;
  }

  private sum(tokens: readonly TokenScore[]): number {
    let s = 0;
    let n = 0;
    for (const t of tokens) {
      if (t.end > this.span.start && t.start < this.span.end) (s += t.logprob), n++;
    }
    if (n === 0) {
      throw new InvalidArgumentError(`The response span [${this.span.start}, ${this.span.end}) of ${JSON.stringify(this.response.slice(0, 40))} covers no token the server scored; give a longer response or span`, { span: this.span });
    }
    this.scoredTokens = n;
    this.responseTokens = tokens.length;
    return s;
  }
}

/**
 * The span of `response` a `--response-span` value names: `START:END` (character offsets, END
 * exclusive; either may be omitted) or a substring (its first occurrence).
 *
 * @throws {InvalidArgumentError} `invalid_argument` when the offsets are out of range or the substring is absent.
 */
export function resolveResponseSpan(response: string, spec: string): ResponseSpan {
  const fn = 'resolveResponseSpan';
  const m = /^(\d*):(\d*)$/.exec(spec);
  if (m) {
    const start = m[1] === '' ? 0 : Number(m[1]);
    const end = m[2] === '' ? response.length : Number(m[2]);
    if (!(start < end && end <= response.length)) {
      throw new InvalidArgumentError(`Argument 'responseSpan' passed to '${fn}' must be START:END with 0 ≤ START < END ≤ ${response.length} (the response's length), got ${spec}`, { arg: 'responseSpan', fn });
    }
    return { start, end };
  }
  const at = spec === '' ? -1 : response.indexOf(spec);
  if (at < 0) throw new InvalidArgumentError(`Argument 'responseSpan' passed to '${fn}' must be START:END or a substring of the response; ${JSON.stringify(spec)} is not in it`, { arg: 'responseSpan', fn });
  return { start: at, end: at + spec.length };
}
