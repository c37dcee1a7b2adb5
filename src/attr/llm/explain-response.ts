// One entry point for attributing a response (given or greedily generated) to prompt tokens or segments.
import { InvalidArgumentError } from '../../core/errors.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import { embeddingIntegratedGradients, type EmbeddingIgOptions } from './embedding-ig.js';
import { attributeResponse, LLM_PERTURBATION_METHODS, type LlmPerturbationMethod, type LlmPerturbationOptions, type TextAttribution } from './llm-attribution.js';
import { generateGreedy } from './response-logprob.js';

/** The methods of `explainResponse`: the perturbation methods over segments, and layer IG at `hook_embed`. */
export const LLM_METHODS = [...LLM_PERTURBATION_METHODS, 'layer-integrated-gradients'] as const;
export type LlmMethod = LlmPerturbationMethod | 'layer-integrated-gradients';

export interface ExplainResponseOptions extends LlmPerturbationOptions, EmbeddingIgOptions {
  readonly prompt: readonly number[];
  /** The response to score (teacher forced); generated greedily when absent. */
  readonly response?: readonly number[];
  readonly segments?: readonly number[];
  readonly baselineToken?: number;
  /** Greedy generation when there is no response. Default 16. */
  readonly maxNewTokens?: number;
  /** Greedy generation stops after this token. */
  readonly eosToken?: number;
}

/** A `TextAttribution` and whether its response was generated here. */
export interface ExplainedResponse extends TextAttribution {
  readonly generated: boolean;
}

/**
 * Attributes log p(response | prompt) with `method`: feature ablation, Shapley value sampling,
 * KernelSHAP or LIME over prompt segments (`attributeResponse`), or layer Integrated Gradients on the
 * token embeddings (`embeddingIntegratedGradients`). Without a response, one is generated greedily.
 *
 * Cost: that of the method, plus one forward per generated token.
 */
export async function explainResponse(model: HookedTransformer, method: LlmMethod, opts: ExplainResponseOptions): Promise<ExplainedResponse> {
  if (!(LLM_METHODS as readonly string[]).includes(method)) {
    throw new InvalidArgumentError(`Argument 'method' passed to 'explainResponse' must be one of ${LLM_METHODS.join(', ')}, got '${String(method)}'`, { arg: 'method', supported: [...LLM_METHODS] });
  }
  const generated = opts.response === undefined;
  const response =
    opts.response ??
    (await generateGreedy(model, opts.prompt, {
      ...(opts.maxNewTokens === undefined ? {} : { maxNewTokens: opts.maxNewTokens }),
      ...(opts.eosToken === undefined ? {} : { eosToken: opts.eosToken }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    }));
  const input = {
    prompt: opts.prompt,
    response,
    ...(opts.segments === undefined ? {} : { segments: opts.segments }),
    ...(opts.baselineToken === undefined ? {} : { baselineToken: opts.baselineToken }),
  };
  const result = method === 'layer-integrated-gradients' ? await embeddingIntegratedGradients(model, input, opts) : await attributeResponse(model, method, input, opts);
  return { ...result, generated };
}

/**
 * The JSON of a text attribution: `{method, prompt, response, segments, rows, scores, diagnostics}`;
 * `scores[r][s]` is segment s's score for row r (`rows[r]`: 'total' or 'token i'). `strings` labels
 * tokens when a tokenizer is given.
 */
export function textAttributionJson(r: ExplainedResponse, strings?: (ids: readonly number[]) => string[]): Record<string, unknown> {
  const a = r.attribution;
  const [rows, count] = a.values.shape as [number, number];
  const data = a.values.dataSync();
  const scores = Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * count, (i + 1) * count)));
  const { evaluations, elapsedMs, truncated, convergenceDelta } = a.diagnostics;
  return {
    method: a.method,
    prompt: { tokens: r.prompt, ...(strings ? { strings: strings(r.prompt) } : {}) },
    response: { tokens: r.response, ...(strings ? { strings: strings(r.response) } : {}), generated: r.generated, logProbs: Array.from(r.responseLogProbs), logProb: Array.from(r.responseLogProbs).reduce((s, v) => s + v, 0) },
    segments: r.segments,
    rows: Array.from({ length: rows }, (_, i) => (i === 0 ? 'total' : `token ${i - 1}`)),
    scores,
    diagnostics: { evaluations, elapsedMs, truncated, ...(convergenceDelta ? { convergenceDelta: Array.from(convergenceDelta) } : {}) },
  };
}
