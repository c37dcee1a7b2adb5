import { AbortedError, BudgetExceededError, InvalidArgumentError } from './errors.js';
import type { Progress, RunControl } from './types.js';

export interface BudgetSpec {
  /** Rows the method needs (exact methods) or wants (anytime methods). */
  readonly total: number;
  readonly fn: string;
  /** Exact methods throw before any work when `total` exceeds `maxEvaluations`. */
  readonly exact: boolean;
  /** The fewest rows an anytime method can give an answer with. */
  readonly minimum?: number;
  readonly phase?: string;
}

const PROGRESS_INTERVAL_MS = 100;

/**
 * Most model rows one call may plan (2^24 ≈ 16.8 M). Larger plans (e.g. `steps: 1e9`, `samples: 1e12`)
 * are refused as `invalid_argument` before any allocation; split the batch to do more.
 */
export const MAX_ROWS_PER_CALL = 2 ** 24;
const YIELD_INTERVAL_MS = 40;

/**
 * Counts model rows, enforces `maxEvaluations`, honours the `AbortSignal`, throttles `onProgress`
 * and yields to the event loop now and then so that aborts and progress bars get a chance to run.
 */
export class Budget {
  private done = 0;
  private truncatedFlag = false;
  private lastProgress = 0;
  private lastYield: number;
  private readonly t0: number;
  readonly total: number;

  private constructor(
    private readonly control: RunControl,
    private readonly spec: BudgetSpec,
  ) {
    this.t0 = performance.now();
    this.lastYield = this.t0;
    const max = control.maxEvaluations;
    this.total = max === undefined || spec.exact ? spec.total : Math.min(spec.total, max);
  }

  /** Validates the budget and starts the clock. Throws `budget_exceeded` before any work when it cannot be met. */
  static start(control: RunControl, spec: BudgetSpec): Budget {
    const max = control.maxEvaluations;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new InvalidArgumentError(
        `Argument 'maxEvaluations' passed to '${spec.fn}' must be a positive integer, got ${String(max)}`,
        { arg: 'maxEvaluations', fn: spec.fn, value: max },
      );
    }
    if (max !== undefined) {
      const need = spec.exact ? spec.total : (spec.minimum ?? 1);
      if (need > max) {
        throw new BudgetExceededError(
          `'${spec.fn}' needs ${need} model evaluations (rows) but maxEvaluations is ${max}; raise maxEvaluations or reduce the work (fewer steps, samples or inputs)`,
          { fn: spec.fn, needed: need, maxEvaluations: max },
        );
      }
    }
    const planned = spec.exact || max === undefined ? spec.total : Math.min(spec.total, max);
    if (!Number.isFinite(planned) || planned > MAX_ROWS_PER_CALL) {
      throw new InvalidArgumentError(
        `'${spec.fn}' would need ${String(planned)} model evaluations (rows); one call plans at most ${MAX_ROWS_PER_CALL}: use fewer steps or samples, or split the inputs`,
        { arg: 'work', fn: spec.fn, needed: planned, max: MAX_ROWS_PER_CALL },
      );
    }
    if (control.signal?.aborted) throw new AbortedError(spec.fn, control.signal.reason);
    return new Budget(control, spec);
  }

  get evaluations(): number {
    return this.done;
  }

  /** Rows still allowed by `maxEvaluations` (Infinity without one). */
  remaining(): number {
    const max = this.control.maxEvaluations;
    return max === undefined ? Infinity : Math.max(0, max - this.done);
  }

  /** Marks an anytime method as stopped by its budget. */
  markTruncated(): void {
    this.truncatedFlag = true;
  }

  /** Call before each model call of `rows` rows: abort check, budget check, progress, event-loop yield. */
  async checkpoint(rows: number, phase?: string): Promise<void> {
    const signal = this.control.signal;
    if (signal?.aborted) throw new AbortedError(this.spec.fn, signal.reason);
    const max = this.control.maxEvaluations;
    if (max !== undefined && this.done + rows > max) {
      throw new BudgetExceededError(
        `'${this.spec.fn}' would exceed maxEvaluations = ${max} (${this.done} done, ${rows} more needed)`,
        { fn: this.spec.fn, maxEvaluations: max, done: this.done, requested: rows },
      );
    }
    this.done += rows;
    const now = performance.now();
    if (this.control.onProgress && now - this.lastProgress >= PROGRESS_INTERVAL_MS) {
      this.lastProgress = now;
      this.report(phase);
    }
    if (now - this.lastYield >= YIELD_INTERVAL_MS) {
      this.lastYield = now;
      await nextTick();
      if (signal?.aborted) throw new AbortedError(this.spec.fn, signal.reason);
    }
  }

  private report(phase?: string): void {
    const p: Progress = { phase: phase ?? this.spec.phase ?? this.spec.fn, done: this.done, total: Math.max(this.total, this.done) };
    this.control.onProgress?.(p);
  }

  /** Stops the clock; the final progress event reports completion. */
  finish(): { evaluations: number; elapsedMs: number; truncated: boolean } {
    this.report();
    return { evaluations: this.done, elapsedMs: performance.now() - this.t0, truncated: this.truncatedFlag };
  }
}

/** One turn of the event loop (setImmediate in Node, a zero timeout elsewhere). */
function nextTick(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
