// What component attribution measures: a scalar function M of one run's logits, and its gradient.
import { InvalidArgumentError } from '../core/errors.js';

/**
 * M of one row's logits (`logits` row-major [seqLen, vocab]) and ∂M/∂logits (same layout). A metric
 * marked `linear` has a gradient that does not depend on the logits (AtP then needs no extra forward).
 */
export interface ComponentMetric {
  readonly name: string;
  readonly linear: boolean;
  /**
   * M reads only the last position's logits: the methods then run the model with `lastPosition` and
   * call `value`/`gradient` with that row alone (seqLen 1), which skips the unembedding of the others.
   */
  readonly lastPosition?: boolean;
  value(logits: Float32Array, seqLen: number, vocab: number): number;
  gradient(logits: Float32Array, seqLen: number, vocab: number): Float32Array;
}

/** log softmax of the last position's logits. */
function lastLogSoftmax(logits: Float32Array, seqLen: number, vocab: number): Float64Array {
  const at = (seqLen - 1) * vocab;
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v]!);
  let z = 0;
  for (let v = 0; v < vocab; v++) z += Math.exp(logits[at + v]! - max);
  const lz = max + Math.log(z);
  return Float64Array.from({ length: vocab }, (_, v) => logits[at + v]! - lz);
}

const checkId = (id: number, vocab: number, arg: string, fn: string): void => {
  if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be a token id in [0, ${vocab}), got ${id}`, { arg, fn, value: id, vocabSize: vocab });
};

/** M = logits[last, answer] − logits[last, wrong] (the default). */
export function logitDifferenceMetric(answer: number, wrong: number): ComponentMetric {
  return {
    name: 'logit-difference',
    linear: true,
    lastPosition: true,
    value: (logits, seqLen, vocab) => (checkId(answer, vocab, 'answer', 'logitDifferenceMetric'), checkId(wrong, vocab, 'wrong', 'logitDifferenceMetric'), logits[(seqLen - 1) * vocab + answer]! - logits[(seqLen - 1) * vocab + wrong]!),
    gradient: (_logits, seqLen, vocab) => {
      const g = new Float32Array(seqLen * vocab);
      g[(seqLen - 1) * vocab + answer]! += 1;
      g[(seqLen - 1) * vocab + wrong]! -= 1;
      return g;
    },
  };
}

/** M = log p(answer) at the last position. */
export function logProbMetric(answer: number): ComponentMetric {
  return {
    name: 'log-prob',
    linear: false,
    lastPosition: true,
    value: (logits, seqLen, vocab) => (checkId(answer, vocab, 'answer', 'logProbMetric'), lastLogSoftmax(logits, seqLen, vocab)[answer]!),
    gradient: (logits, seqLen, vocab) => {
      // ∂ log p_a / ∂z_v = [v = a] − p_v
      const lp = lastLogSoftmax(logits, seqLen, vocab);
      const g = new Float32Array(seqLen * vocab);
      for (let v = 0; v < vocab; v++) g[(seqLen - 1) * vocab + v] = (v === answer ? 1 : 0) - Math.exp(lp[v]!);
      return g;
    },
  };
}

/**
 * M = KL(p_ref ‖ p) at the last position, p_ref = softmax(`reference`) (e.g. the clean run's last
 * logits, [vocab]). Its gradient at the reference itself is 0, so AtP with it is only informative away
 * from the reference run.
 */
export function klDivergenceMetric(reference: Float32Array): ComponentMetric {
  const ref = lastLogSoftmax(reference, 1, reference.length);
  const check = (vocab: number) => {
    if (vocab !== reference.length) throw new InvalidArgumentError(`Argument 'reference' passed to 'klDivergenceMetric' has ${reference.length} logits; the model's vocabulary has ${vocab}`, { arg: 'reference', expected: vocab, actual: reference.length });
  };
  return {
    name: 'kl-divergence',
    linear: false,
    lastPosition: true,
    value: (logits, seqLen, vocab) => {
      check(vocab);
      const lp = lastLogSoftmax(logits, seqLen, vocab);
      let kl = 0;
      for (let v = 0; v < vocab; v++) kl += Math.exp(ref[v]!) * (ref[v]! - lp[v]!);
      return kl;
    },
    gradient: (logits, seqLen, vocab) => {
      // ∂/∂z_v Σ p_ref (log p_ref − log p) = p_v − p_ref,v
      check(vocab);
      const lp = lastLogSoftmax(logits, seqLen, vocab);
      const g = new Float32Array(seqLen * vocab);
      for (let v = 0; v < vocab; v++) g[(seqLen - 1) * vocab + v] = Math.exp(lp[v]!) - Math.exp(ref[v]!);
      return g;
    },
  };
}
