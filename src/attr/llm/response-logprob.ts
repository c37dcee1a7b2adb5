// Teacher-forced log-probabilities of a response given a prompt, and greedy generation, on a HookedTransformer.
import { InvalidArgumentError } from '../../core/errors.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import { checkTokens } from '../../models/transformer/tokens.js';

/**
 * The token sequence a response is scored on: the prompt followed by every response token but the
 * last (the logits at position P − 1 + i predict response token i).
 * @throws {InvalidArgumentError} `invalid_argument` for an empty prompt or response, an id outside the
 *   vocabulary (details.arg, position) or a prompt + response longer than the model's positions
 *   (details.field 'n_positions').
 */
export function scoredSequence(model: HookedTransformer, prompt: readonly number[], response: readonly number[], fn: string): number[] {
  if (prompt.length === 0) throw new InvalidArgumentError(`Argument 'prompt' passed to '${fn}' must hold at least one token`, { arg: 'prompt', fn });
  if (response.length === 0) throw new InvalidArgumentError(`Argument 'response' passed to '${fn}' must hold at least one token (omit it to generate one)`, { arg: 'response', fn });
  checkTokens(prompt, model.config, fn, 'prompt');
  checkTokens(response, model.config, fn, 'response');
  const seq = [...prompt, ...response.slice(0, -1)];
  if (seq.length > model.config.maxPositions) {
    throw new InvalidArgumentError(
      `Arguments 'prompt' and 'response' passed to '${fn}' need ${seq.length} positions; the model has ${model.config.maxPositions} (n_positions): shorten the prompt or the response`,
      { arg: 'response', fn, field: 'n_positions', seqLen: seq.length, maxPositions: model.config.maxPositions },
    );
  }
  return seq;
}

/** log softmax(logits[row, pos, ·])[id] in float64. */
export function logSoftmaxAt(logits: Float32Array, at: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[at + v]! - max);
  return logits[at + id]! - max - Math.log(sum);
}

/**
 * Per response token log p(response_i | prompt, response_<i) of every row of `logits`
 * ([rows, T, V] of sequences scored by `scoredSequence`): [rows × R] row-major, float64.
 */
export function responseLogProbsOf(logits: Float32Array, rows: number, seqLen: number, vocab: number, promptLen: number, response: readonly number[]): Float64Array {
  const r = response.length;
  const out = new Float64Array(rows * r);
  for (let b = 0; b < rows; b++) {
    for (let i = 0; i < r; i++) out[b * r + i] = logSoftmaxAt(logits, (b * seqLen + promptLen - 1 + i) * vocab, vocab, response[i]!);
  }
  return out;
}

/**
 * Teacher-forced log-probabilities of `response` after `prompt`, one per response token (float64).
 * Their sum is log p(response | prompt).
 *
 * Cost: one forward row.
 */
export async function responseLogProbs(model: HookedTransformer, prompt: readonly number[], response: readonly number[]): Promise<Float64Array> {
  const seq = scoredSequence(model, prompt, response, 'responseLogProbs');
  const logits = await model.run(seq);
  return responseLogProbsOf(logits.data, 1, seq.length, model.config.vocabSize, prompt.length, response);
}

export interface GenerateOptions {
  /** Tokens to generate at most. Default 16. */
  readonly maxNewTokens?: number;
  /** Stop after this token (it is kept in the response). */
  readonly eosToken?: number;
  readonly signal?: AbortSignal;
}

/**
 * Greedy decoding: appends argmax_v logits[last, v] until `maxNewTokens` tokens, the end token, or the
 * model's last position.
 *
 * Cost: one forward row per generated token (no key-value cache: each step runs the whole sequence).
 */
export async function generateGreedy(model: HookedTransformer, prompt: readonly number[], opts: GenerateOptions = {}): Promise<number[]> {
  const fn = 'generateGreedy';
  const max = opts.maxNewTokens ?? 16;
  if (!Number.isInteger(max) || max < 1) throw new InvalidArgumentError(`Argument 'maxNewTokens' passed to '${fn}' must be a positive integer, got ${max}`, { arg: 'maxNewTokens', fn });
  if (prompt.length === 0) throw new InvalidArgumentError(`Argument 'prompt' passed to '${fn}' must hold at least one token`, { arg: 'prompt', fn });
  checkTokens(prompt, model.config, fn, 'prompt');
  const vocab = model.config.vocabSize;
  const seq = [...prompt];
  const out: number[] = [];
  while (out.length < max && seq.length < model.config.maxPositions) {
    opts.signal?.throwIfAborted();
    const { data } = await model.run(seq);
    const at = (seq.length - 1) * vocab;
    let best = 0;
    for (let v = 1; v < vocab; v++) if (data[at + v]! > data[at + best]!) best = v;
    out.push(best);
    seq.push(best);
    if (best === opts.eosToken) break;
  }
  return out;
}
