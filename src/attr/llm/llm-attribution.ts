// Captum LLMAttribution: a response's log-probability attributed to prompt tokens or segments by perturbation.
import * as tf from '@tensorflow/tfjs-core';
import { chunks } from '../../core/batching.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { FeatureAttribution } from '../../core/result.js';
import type { RunControl } from '../../core/types.js';
import { fromBatchFunction, type PlainBatch } from '../../models/batch-function.js';
import type { ModelAdapter } from '../../models/model.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import { checkTokens } from '../../models/transformer/tokens.js';
import { FeatureAblation } from '../perturbation/feature-ablation.js';
import { KernelShap } from '../perturbation/kernel-shap.js';
import { Lime } from '../perturbation/lime.js';
import { ShapleyValueSampling } from '../perturbation/shapley.js';
import { responseLogProbs, responseLogProbsOf, scoredSequence } from './response-logprob.js';

/** The perturbation methods LLM attribution runs over prompt segments. */
export const LLM_PERTURBATION_METHODS = ['feature-ablation', 'shapley-value-sampling', 'kernel-shap', 'lime'] as const;
export type LlmPerturbationMethod = (typeof LLM_PERTURBATION_METHODS)[number];

/** A prompt and the response whose log-probability is attributed to it. */
export interface TextAttributionInput {
  readonly prompt: readonly number[];
  readonly response: readonly number[];
  /**
   * Segment id per prompt token (Captum's TextTemplateInput): tokens with the same id are kept or
   * ablated together; −1 marks a token that is never ablated. Ids must be 0..S−1, each used. Default:
   * every prompt token alone.
   */
  readonly segments?: readonly number[];
  /** Token an ablated prompt token is replaced by (Captum's baselines). Default 0. */
  readonly baselineToken?: number;
}

export interface LlmPerturbationOptions extends RunControl {
  /** Also attribute each response token's log-probability (rows 1..R of `values`). Default false. */
  readonly perToken?: boolean;
  /** Shapley value sampling: permutations; KernelSHAP / LIME: coalitions (each method's default otherwise). */
  readonly samples?: number;
}

/** A response's attribution to prompt segments. */
export interface TextAttribution {
  /** `values` [1, S] (the sum of log-probs), or [1 + R, S] with `perToken` (row 1 + i: response token i). */
  readonly attribution: FeatureAttribution;
  readonly prompt: readonly number[];
  readonly response: readonly number[];
  /** Segment of each prompt token (−1: never ablated); S = max + 1. */
  readonly segments: readonly number[];
  /** log p(response_i | …) with the whole prompt, per response token. */
  readonly responseLogProbs: Float64Array;
}

/** Validated segments (ids 0..S−1 all used, −1 fixed) of a prompt. */
export function resolveSegments(segments: readonly number[] | undefined, promptLen: number, fn: string): { ids: number[]; count: number } {
  if (segments === undefined) return { ids: Array.from({ length: promptLen }, (_, i) => i), count: promptLen };
  if (segments.length !== promptLen) {
    throw new InvalidArgumentError(`Argument 'segments' passed to '${fn}' must give one id per prompt token (${promptLen}), got ${segments.length}`, { arg: 'segments', fn });
  }
  let count = 0;
  for (const s of segments) {
    if (!Number.isInteger(s) || s < -1) throw new InvalidArgumentError(`Argument 'segments' passed to '${fn}' must hold integers ≥ −1, got ${s}`, { arg: 'segments', fn, value: s });
    count = Math.max(count, s + 1);
  }
  const used = new Set(segments);
  for (let s = 0; s < count; s++) {
    if (!used.has(s)) throw new InvalidArgumentError(`Argument 'segments' passed to '${fn}' skips segment id ${s}; use ids 0..S−1`, { arg: 'segments', fn, value: s });
  }
  if (count === 0) throw new InvalidArgumentError(`Argument 'segments' passed to '${fn}' marks every prompt token fixed (−1); nothing to attribute`, { arg: 'segments', fn });
  return { ids: [...segments], count };
}

/**
 * The model seen by the perturbation methods: input row = keep flag per segment (≥ 0.5 keeps it,
 * otherwise its tokens become `baselineToken`), output row = [Σ_i log p_i, log p_1, …, log p_R].
 * Identical masks are evaluated once (a per-adapter memo), so per-token rows cost no extra forwards.
 */
export function segmentLogProbModel(model: HookedTransformer, input: TextAttributionInput, segments: readonly number[], count: number, batchSize: number): ModelAdapter {
  const seq = scoredSequence(model, input.prompt, input.response, 'segmentLogProbModel');
  const r = input.response.length;
  const p = input.prompt.length;
  const memo = new Map<string, Float64Array>();
  const vocab = model.config.vocabSize;
  const fn = async ({ data, shape }: PlainBatch): Promise<Float32Array> => {
    const n = shape[0]!;
    const keys: string[] = [];
    for (let b = 0; b < n; b++) keys.push(Array.from(data.subarray(b * count, (b + 1) * count), (v) => (v >= 0.5 ? '1' : '0')).join(''));
    const todo = [...new Set(keys.filter((k) => !memo.has(k)))];
    for (const [start, end] of chunks(todo.length, batchSize)) {
      const rows = todo.slice(start, end).map((k) => seq.map((t, i) => (i < p && segments[i]! >= 0 && k[segments[i]!] === '0' ? (input.baselineToken ?? 0) : t)));
      const logits = await model.run(rows);
      const lp = responseLogProbsOf(logits.data, rows.length, seq.length, vocab, p, input.response);
      rows.forEach((_, j) => memo.set(todo[start + j]!, lp.subarray(j * r, (j + 1) * r)));
    }
    const out = new Float32Array(n * (r + 1));
    keys.forEach((k, b) => {
      const lp = memo.get(k)!;
      let s = 0;
      for (let i = 0; i < r; i++) s += out[b * (r + 1) + 1 + i] = lp[i]!;
      out[b * (r + 1)] = s;
    });
    return out;
  };
  return fromBatchFunction(fn, { name: `${model.name}:response-logprob`, inputShape: [null, count] });
}

/**
 * Attributes log p(response | prompt) (teacher forced) to prompt segments with a perturbation method
 * of the catalogue (Captum's LLMAttribution): the segment keep-mask is the method's input, ablation
 * replaces a segment's tokens by `baselineToken`.
 *
 * Cost: the method's rows (feature ablation S + 1; Shapley sampling samples × S + 1; KernelSHAP/LIME
 * samples + 2), each one forward of prompt + response; `perToken` adds none.
 * Axiom: feature ablation of segment s = log p(full) − log p(s ablated); Shapley sampling is efficient
 * (Σ = log p(full) − log p(all ablated)).
 */
export async function attributeResponse(model: HookedTransformer, method: LlmPerturbationMethod, input: TextAttributionInput, opts: LlmPerturbationOptions = {}): Promise<TextAttribution> {
  const fn = 'attributeResponse';
  if (!LLM_PERTURBATION_METHODS.includes(method)) {
    throw new InvalidArgumentError(`Argument 'method' passed to '${fn}' must be one of ${LLM_PERTURBATION_METHODS.join(', ')}, got '${String(method)}'`, { arg: 'method', fn, supported: [...LLM_PERTURBATION_METHODS] });
  }
  checkTokens([input.baselineToken ?? 0], model.config, fn, 'baselineToken');
  scoredSequence(model, input.prompt, input.response, fn);
  const { ids, count } = resolveSegments(input.segments, input.prompt.length, fn);
  const r = input.response.length;
  const adapter = segmentLogProbModel(model, input, ids, count, opts.batchSize ?? 32);
  const rows = opts.perToken ? r + 1 : 1;
  const x = tf.ones([rows, count]);
  const target = Array.from({ length: rows }, (_, i) => i);
  const common = { ...opts, target, baselines: 0 } as const;
  const withSamples = opts.samples === undefined ? common : { ...common, samples: opts.samples };
  try {
    const attribution =
      method === 'feature-ablation'
        ? await new FeatureAblation(adapter).attribute(x, common)
        : method === 'shapley-value-sampling'
          ? await new ShapleyValueSampling(adapter).attribute(x, withSamples)
          : method === 'kernel-shap'
            ? await new KernelShap(adapter).attribute(x, withSamples)
            : await new Lime(adapter).attribute(x, withSamples);
    const full = await responseLogProbs(model, input.prompt, input.response);
    return { attribution, prompt: [...input.prompt], response: [...input.response], segments: ids, responseLogProbs: full };
  } finally {
    x.dispose();
  }
}
