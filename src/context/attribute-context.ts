import * as tf from '@tensorflow/tfjs-core';
import { BudgetExceededError, InvalidArgumentError } from '../core/errors.js';
import { ContextAttribution, type SourceSpan } from '../core/result.js';
import type { Progress } from '../core/types.js';
import { attribot } from './attribot.js';
import { contextCite } from './context-cite.js';
import { ablationLds, topKDrop, type TopKDrop } from './evaluate.js';
import { AblationGame } from './game.js';
import { contextKernelShap } from './kernel-shap.js';
import { leaveOneOut } from './leave-one-out.js';
import { DEFAULT_TEMPLATE, PromptBuilder } from './prompt.js';
import { resolveResponseSpan, ResponseLogProb, type ResponseSpan, type ScoreStore } from './scorer.js';
import type { LogProbApi } from './scorers/tokens.js';
import { checkSpans, splitSources, type SourceUnit } from './sources.js';

/** The context attribution methods. */
export const CONTEXT_METHODS = ['context-cite', 'leave-one-out', 'kernel-shap', 'attribot'] as const;
export type ContextMethodId = (typeof CONTEXT_METHODS)[number];

export interface ContextAttributeOptions {
  readonly context: string;
  readonly query: string;
  /** The response to attribute; generated greedily first when absent. */
  readonly response?: string;
  /** Prompt template with `{context}` and `{query}`; the response follows it. Default {@link DEFAULT_TEMPLATE}. */
  readonly template?: string;
  /** How the context splits into sources, or the caller's spans (documents, chat turns). Default 'sentences'. */
  readonly sources?: SourceUnit | readonly SourceSpan[];
  readonly method: ContextMethodId;
  /** Ablated prompts per run (context-cite, kernel-shap). Default 64. */
  readonly ablations?: number;
  /** AttriBoT: groups (paragraphs) kept for the source-level stage. Default 3. */
  readonly keepGroups?: number;
  readonly seed?: number;
  /** Score only this part of the response: `{start, end}`, `START:END` or a substring. */
  readonly responseSpan?: ResponseSpan | string;
  /** Text put in place of an ablated source. Default '' (removed). */
  readonly replacement?: string;
  /** Cache of scored prompts (`ScoreCache` from `attrib/node`: on disk). */
  readonly cache?: ScoreStore;
  /** Most tokens generated when there is no response. Default 256. */
  readonly maxNewTokens?: number;
  /** Held-out random ablations for the LDS (extra prompts). Default 0: no LDS. */
  readonly ldsAblations?: number;
  /** k values of the top-k log-probability drop (one extra prompt each). Default none. */
  readonly topK?: readonly number[];
  /** Prompts in flight at once. Default: the client's concurrency. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

/** What a run reports besides the scores. */
export interface ContextRunDiagnostics {
  /** HTTP requests sent (retries included, cache hits excluded). */
  readonly requests: number;
  /** Prompts scored by the server (cache hits excluded). */
  readonly prompts: number;
  readonly cacheHits: number;
  readonly elapsedMs: number;
  /** log p(response span | full context). */
  readonly fullLogProb: number;
  readonly lds?: number;
  readonly topKDrop?: readonly TopKDrop[];
}

/** The attribution (values [1, sources]), the response and the run's diagnostics. */
export interface ContextRun extends Disposable {
  readonly attribution: ContextAttribution;
  readonly response: string;
  readonly responseSpan: ResponseSpan;
  readonly diagnostics: ContextRunDiagnostics;
  dispose(): void;
}

/**
 * Which sources of a context an LLM's answer relied on, against a server that scores log-probabilities
 * (`connect`): splits the context, generates the response when none is given (greedy), scores the full
 * prompt, then runs the method over ablated prompts (concurrently) and optionally evaluates it (top-k
 * drop, LDS). The result owns one tensor ([1, sources]); dispose it.
 *
 * Cost: leave-one-out n + 1 prompts; context-cite ablations + 1; kernel-shap min(ablations, 2^n − 1) + 1;
 * attribot G + 2 + (sources in the kept groups); plus one for generation, len(topK), ldsAblations. A prompt is one request
 * (completions, vllm) or 1 + response tokens (llama.cpp).
 *
 * @throws {InvalidArgumentError} `invalid_argument`: empty context, bad spans, a response (span) that
 * covers no token, an unreachable endpoint, a refused key.
 * @throws {CapabilityError} `capability_missing`: the server does not return what `api` needs.
 */
export async function attributeContext(api: LogProbApi, opts: ContextAttributeOptions): Promise<ContextRun> {
  const fn = 'attributeContext';
  const t0 = performance.now();
  const requestsBefore = api.client.requests;
  const sources = typeof opts.sources === 'object' ? checkSpans(opts.context, opts.sources) : splitSources(opts.context, opts.sources ?? 'sentences');
  const ablations = opts.ablations ?? 64;
  if (!Number.isSafeInteger(ablations) || ablations < 1 || ablations > 100_000) {
    throw new InvalidArgumentError(`Argument 'ablations' passed to '${fn}' must be an integer from 1 to 100000, got ${ablations}`, { arg: 'ablations', fn });
  }
  if (opts.keepGroups !== undefined && !(Number.isSafeInteger(opts.keepGroups) && opts.keepGroups >= 1)) {
    throw new InvalidArgumentError(`Argument 'keepGroups' passed to '${fn}' must be a positive integer, got ${opts.keepGroups}`, { arg: 'keepGroups', fn });
  }
  const count = (v: unknown, arg: string, min: number) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= 100_000)) {
      throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be an integer from ${min} to 100000, got ${String(v)}`, { arg, fn });
    }
  };
  count(opts.ldsAblations, 'ldsAblations', 0);
  count(opts.maxNewTokens, 'maxNewTokens', 1);
  opts.topK?.forEach((k) => count(k, 'topK', 1));
  if (!(CONTEXT_METHODS as readonly string[]).includes(opts.method)) {
    throw new InvalidArgumentError(`Argument 'method' passed to '${fn}' must be one of ${CONTEXT_METHODS.join(', ')}, got ${JSON.stringify(opts.method)}`, { arg: 'method', fn });
  }
  const prompts = new PromptBuilder(opts.context, sources, opts.query, opts.template ?? DEFAULT_TEMPLATE, opts.replacement === undefined ? {} : { replacement: opts.replacement });
  const fullPrompt = prompts.prompt(new Uint8Array(sources.length).fill(1));
  const response = opts.response ?? (await api.generate(fullPrompt, opts.maxNewTokens ?? 256));
  if (response.trim() === '') {
    throw new InvalidArgumentError(`The response to attribute is empty${opts.response === undefined ? ' (the server generated nothing)' : ''}; pass a non-empty response`, { arg: 'response', fn });
  }
  const span = typeof opts.responseSpan === 'string' ? resolveResponseSpan(response, opts.responseSpan) : opts.responseSpan;
  const scorer = new ResponseLogProb(api, response, span, opts.cache);
  const game = new AblationGame(prompts, scorer, { concurrency: opts.concurrency ?? api.client.concurrency, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  const seed = opts.seed ?? 0;
  // the full prompt goes first, alone: it settles protocol fallbacks before the concurrent ablations
  const full = await game.full();
  checkBudget(api, opts, sources.length, scorer.responseTokens, api.client.requests - requestsBefore);
  let scores: Float64Array;
  switch (opts.method) {
    case 'leave-one-out':
      scores = await leaveOneOut(game, full);
      break;
    case 'context-cite':
      scores = (await contextCite(game, { ablations, seed, responseTokens: scorer.scoredTokens })).scores;
      break;
    case 'kernel-shap':
      scores = await contextKernelShap(game, full, { ablations, seed });
      break;
    default:
      scores = (await attribot(game, full, opts.keepGroups === undefined ? {} : { keepGroups: opts.keepGroups })).scores;
  }
  const drops = opts.topK && opts.topK.length > 0 ? await topKDrop(game, full, scores, opts.topK) : undefined;
  const lds = opts.ldsAblations ? await ablationLds(game, scores, opts.ldsAblations, seed + 0x5eed) : undefined;
  const elapsedMs = performance.now() - t0;
  const attribution = new ContextAttribution(opts.method, sources, tf.tensor2d(Float32Array.from(scores), [1, sources.length], 'float32'), { evaluations: scorer.prompts, elapsedMs, truncated: false });
  return {
    attribution,
    response,
    responseSpan: scorer.span,
    diagnostics: {
      requests: api.client.requests - requestsBefore,
      prompts: scorer.prompts,
      cacheHits: scorer.cacheHits,
      elapsedMs,
      fullLogProb: full,
      ...(lds === undefined ? {} : { lds }),
      ...(drops ? { topKDrop: drops } : {}),
    },
    dispose: () => attribution.dispose(),
    [Symbol.dispose]: () => attribution.dispose(),
  };
}

/**
 * Throws `budget_exceeded` before the ablations when the client's request budget cannot cover the
 * run (an upper bound: masks drawn twice and cache hits cost nothing).
 */
function checkBudget(api: LogProbApi, opts: ContextAttributeOptions, n: number, responseTokens: number, spent: number): void {
  const budget = api.client.maxRequests;
  if (budget === undefined) return;
  const ablations = opts.ablations ?? 64;
  const method = { 'leave-one-out': n, 'context-cite': ablations, 'kernel-shap': n >= 31 ? ablations : Math.min(ablations, 2 ** n - 1), attribot: 2 * n + 1 }[opts.method];
  const prompts = method + (opts.topK?.length ?? 0) + (opts.ldsAblations ?? 0);
  const needed = spent + prompts * api.requestsPerPrompt(responseTokens);
  if (needed > budget) {
    throw new BudgetExceededError(`The ${opts.method} run needs up to ${needed} requests (${prompts} prompts × ${api.requestsPerPrompt(responseTokens)} with --api ${api.api}, plus ${spent} sent), more than the budget of ${budget}; raise maxRequests (--max-requests) or lower the ablations`, { needed, budget, prompts });
  }
}
