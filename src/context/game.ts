import { AbortedError } from '../core/errors.js';
import type { Progress } from '../core/types.js';
import type { PromptBuilder } from './prompt.js';
import type { ResponseLogProb } from './scorer.js';

/**
 * The ablation game over context sources: v(S) = log p(response | prompt with only the sources in S),
 * evaluated for many keep-masks at once by a bounded pool of workers (at most `concurrency` prompts in
 * flight; the HTTP client bounds requests too). The first failure stops the pool and is thrown.
 */
export class AblationGame {
  readonly n: number;

  constructor(
    readonly prompts: PromptBuilder,
    readonly scorer: ResponseLogProb,
    private readonly opts: { readonly concurrency?: number; readonly signal?: AbortSignal; readonly onProgress?: (p: Progress) => void } = {},
  ) {
    this.n = prompts.sources.length;
  }

  /** v(all sources). */
  full(): Promise<number> {
    return this.scorer.of(this.prompts.prompt(new Uint8Array(this.n).fill(1)));
  }

  /** v for `k` keep-masks stored row by row in `masks` ([k, n], 1 = kept). */
  async values(masks: Uint8Array, phase: string): Promise<Float64Array> {
    const n = this.n;
    const k = n === 0 ? 0 : masks.length / n;
    const out = new Float64Array(k);
    let next = 0;
    let done = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < k) {
        if (this.opts.signal?.aborted) throw new AbortedError('AblationGame.values', this.opts.signal.reason);
        const j = next++;
        try {
          out[j] = await this.scorer.of(this.prompts.prompt(masks.subarray(j * n, (j + 1) * n)));
        } catch (e) {
          failed = true;
          throw e;
        }
        this.opts.onProgress?.({ phase, done: ++done, total: k });
      }
    };
    const workers = Math.max(1, Math.min(k, this.opts.concurrency ?? 8));
    await Promise.all(Array.from({ length: workers }, worker));
    return out;
  }
}

/** Keep-masks [count, n]: all sources kept but one, for each source in `which`. */
export function leaveOneOutMasks(n: number, which: readonly number[]): Uint8Array {
  const masks = new Uint8Array(which.length * n).fill(1);
  which.forEach((i, r) => (masks[r * n + i] = 0));
  return masks;
}
