import { AbortedError, BudgetExceededError, InvalidArgumentError } from './errors.js';
import type { Pacer } from './batching.js';
import type { EngineName, EngineSource, Progress, RunControl } from './types.js';

export interface BudgetSpec {
  /** Rows the method needs (exact methods) or wants (anytime methods). */
  readonly total: number;
  readonly fn: string;
  /** Exact methods throw before any work when `total` exceeds `maxEvaluations`. */
  readonly exact: boolean;
  /** The fewest rows an anytime method can give an answer with. */
  readonly minimum?: number;
  readonly phase?: string;
  /** The model the work runs on: its engine and compile time are reported by `finish()`. */
  readonly model?: EngineSource;
}

const PROGRESS_INTERVAL_MS = 100;

/**
 * Most model rows one call may plan (2^24 ≈ 16.8 M). Larger plans (e.g. `steps: 1e9`, `samples: 1e12`)
 * are refused as `invalid_argument` before any allocation; split the batch to do more.
 */
export const MAX_ROWS_PER_CALL = 2 ** 24;
const YIELD_INTERVAL_MS = 40;
/** Wall time one model call should take at most when `chunks` is paced by a budget (abort latency). */
export const CHUNK_TARGET_MS = 150;
/** Rows of the first paced call, before any time per row is known. */
export const FIRST_CHUNK_ROWS = 256;

/**
 * Counts model rows, enforces `maxEvaluations`, honours the `AbortSignal`, throttles `onProgress`
 * and yields to the event loop now and then so that aborts and progress bars get a chance to run.
 */
export class Budget implements Pacer {
  private done = 0;
  /** Rows of calls known to have finished (those before the latest checkpoint). */
  private completed = 0;
  private lastCheckpointAt = 0;
  private lastRows = 0;
  /** Smoothed wall time per row (ms), measured between checkpoints; undefined until measured. */
  private msPerRow: number | undefined;
  private reported = false;
  private truncatedFlag = false;
  private lastProgress = 0;
  private lastYield: number;
  private readonly t0: number;
  private readonly compile0: number;
  readonly total: number;

  private constructor(
    private readonly control: RunControl,
    private readonly spec: BudgetSpec,
  ) {
    this.t0 = performance.now();
    this.compile0 = spec.model?.compileMs ?? 0;
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
    const now = performance.now();
    this.measure(now);
    this.completed = this.done;
    this.done += rows;
    this.lastCheckpointAt = now;
    this.lastRows = rows;
    // the first report as soon as one call has finished, then at most every PROGRESS_INTERVAL_MS
    if (this.control.onProgress && this.completed > 0 && (!this.reported || now - this.lastProgress >= PROGRESS_INTERVAL_MS)) {
      this.lastProgress = now;
      this.reported = true;
      this.report(phase, this.completed);
    }
    if (now - this.lastYield >= YIELD_INTERVAL_MS) {
      this.lastYield = now;
      await nextTick();
      if (signal?.aborted) throw new AbortedError(this.spec.fn, signal.reason);
    }
  }

  /**
   * Rows the next model call may take: `size` at most, and no more than about {@link CHUNK_TARGET_MS}
   * of wall time at the measured time per row ({@link FIRST_CHUNK_ROWS} before any is measured), so
   * that a batch of thousands of rows does not hold off an abort for seconds. With
   * `RunControl.fixedChunks`, `size` (the batch size) always.
   */
  nextChunk(size: number): number {
    if (this.control.fixedChunks) return size;
    this.measure(performance.now());
    if (this.msPerRow === undefined) return Math.min(size, FIRST_CHUNK_ROWS);
    return Math.max(1, Math.min(size, Math.floor(CHUNK_TARGET_MS / Math.max(this.msPerRow, 1e-6))));
  }

  /** Folds the time since the last checkpoint into the per-row estimate (once per checkpoint). */
  private measure(now: number): void {
    if (this.lastRows === 0) return;
    const sample = (now - this.lastCheckpointAt) / this.lastRows;
    this.msPerRow = this.msPerRow === undefined ? sample : 0.5 * this.msPerRow + 0.5 * sample;
    this.lastRows = 0;
  }

  private report(phase: string | undefined, done: number): void {
    const p: Progress = { phase: humanPhase(phase ?? this.spec.phase ?? this.spec.fn), done, total: Math.max(this.total, this.done) };
    this.control.onProgress?.(p);
  }

  /**
   * Announces work between model calls that may take a while (e.g. fitting a surrogate on many
   * features): one progress event with `phase`, at once, and an abort check.
   */
  enterPhase(phase: string): void {
    const signal = this.control.signal;
    if (signal?.aborted) throw new AbortedError(this.spec.fn, signal.reason);
    this.lastProgress = performance.now();
    this.reported = true;
    this.report(phase, this.done);
  }

  /** Stops the clock; the final progress event reports completion. */
  finish(): { evaluations: number; elapsedMs: number; truncated: boolean; engine?: EngineName; compileMs?: number } {
    this.report(undefined, this.done);
    const model = this.spec.model;
    return {
      evaluations: this.done,
      elapsedMs: performance.now() - this.t0,
      truncated: this.truncatedFlag,
      ...(model?.engine ? { engine: model.engine } : {}),
      ...(model?.compileMs === undefined ? {} : { compileMs: Math.max(0, model.compileMs - this.compile0) }),
    };
  }
}

const ACRONYMS: Record<string, string> = { shap: 'SHAP', lime: 'LIME', lrp: 'LRP', rise: 'RISE', hsic: 'HSIC', cam: 'CAM', gradcam: 'GradCAM', lima: 'LiMA', deeplift: 'DeepLIFT', roar: 'ROAR', road: 'ROAD' };

/**
 * A phase name for people: `'IntegratedGradients.attribute'` → `'integrated gradients'`,
 * `'KernelShap.attribute'` → `'kernel SHAP'`, `'target'` → `'finding targets'`; other text as given.
 */
export function humanPhase(phase: string): string {
  if (phase === 'target') return 'finding targets';
  const m = /^([A-Z][A-Za-z0-9]*)\.[a-zA-Z]+$/.exec(phase);
  if (!m) return phase;
  return m[1]!
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(' ')
    .map((w) => ACRONYMS[w.toLowerCase()] ?? w.toLowerCase())
    .join(' ');
}

/** One turn of the event loop (setImmediate in Node, a zero timeout elsewhere). */
function nextTick(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
