// Token ids checked against a model before any graph runs.
import { assertHostAllocation } from '../../core/assert.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { TransformerConfig } from './config.js';

/** One sequence of token ids, or a batch of sequences of equal length. */
export type TokenInput = readonly number[] | readonly (readonly number[])[];

/** Validated token ids: int64 row-major [batch, seqLen]. */
export interface TokenBatch {
  readonly ids: BigInt64Array;
  readonly batch: number;
  readonly seqLen: number;
}

/**
 * Checks `tokens` against `config` and packs them as int64.
 * @throws {InvalidArgumentError} `invalid_argument` naming the argument (details.arg) and what is
 *   wrong: an empty or ragged batch, an id that is not an integer in [0, vocab) (details.row,
 *   position, value, vocabSize), or a sequence longer than the model's positions (details.field:
 *   n_positions for GPT-2, max_position_embeddings for the LLaMA family; details.maxPositions), or one
 *   whose T × T causal mask is over the host allocation cap.
 */
export function checkTokens(tokens: TokenInput, config: TransformerConfig, fn: string, arg = 'tokens'): TokenBatch {
  const rows: readonly (readonly number[])[] = Array.isArray(tokens) && tokens.length > 0 && Array.isArray(tokens[0]) ? (tokens as readonly (readonly number[])[]) : [tokens as readonly number[]];
  const seqLen = rows[0]?.length ?? 0;
  if (seqLen === 0) throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must hold at least one token`, { arg, fn });
  // GPT-2's learned positions are a hard limit; the LLaMA family's max_position_embeddings bounds the
  // T × T causal mask and the rotary tables built as constants of the graph
  if (seqLen > config.maxPositions) {
    const field = config.family === 'gpt2' ? 'n_positions' : 'max_position_embeddings';
    throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' has ${seqLen} tokens; the model has ${config.maxPositions} positions (${field})`, {
      arg,
      fn,
      field,
      seqLen,
      maxPositions: config.maxPositions,
    });
  }
  // the causal mask is a T × T constant: refused before it is built (long max_position_embeddings)
  assertHostAllocation(seqLen * seqLen, arg, fn);
  const ids = new BigInt64Array(rows.length * seqLen);
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== seqLen) {
      throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be sequences of equal length; row ${r} has ${Array.isArray(row) ? row.length : 'no'} tokens, row 0 has ${seqLen}`, { arg, fn, row: r });
    }
    row.forEach((id, p) => {
      if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
        throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' has token id ${id} at row ${r}, position ${p}; ids must be integers in [0, ${config.vocabSize}) (vocab_size)`, {
          arg,
          fn,
          field: 'vocab_size',
          row: r,
          position: p,
          value: id,
          vocabSize: config.vocabSize,
        });
      }
      ids[r * seqLen + p] = BigInt(id);
    });
  });
  return { ids, batch: rows.length, seqLen };
}
