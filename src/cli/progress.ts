import type { Progress } from '../core/types.js';

/** Shortest time a run must have taken before a bar is drawn (no flash on quick runs). */
const SHOW_AFTER_MS = 250;
/** Lines apart on a stream that is not a terminal (CI logs). */
const PLAIN_INTERVAL_MS = 10_000;
/** An ETA is shown only once this share of the work is done and this much time has passed. */
const ETA_MIN_FRACTION = 0.05;
const ETA_MIN_MS = 1500;
/** ETAs beyond this are not shown (the estimate is meaningless that far out). */
const ETA_MAX_S = 7 * 24 * 3600;

/**
 * A progress bar on stderr, from the first finished model call on (after {@link SHOW_AFTER_MS}). On a
 * terminal it redraws one line; elsewhere (CI logs) it prints a plain line every
 * {@link PLAIN_INTERVAL_MS}. The ETA comes from the rate since the first report, and only once
 * enough is done to estimate it; it is left out when unknown.
 */
export class ProgressBar {
  private readonly t0: number;
  private first: { at: number; done: number } | undefined;
  private shown = false;
  private lastLine = 0;
  private lastPhase = '';
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = Boolean(stream.isTTY);
    this.t0 = now();
  }

  update = (p: Progress): void => {
    if (!this.enabled) return;
    const line = this.line(p);
    if (line === undefined) return;
    if (this.tty) this.stream.write(`\r${line.slice(0, 99).padEnd(99)}`);
    else this.stream.write(`${line}\n`);
    this.shown = true;
  };

  /** The text for `p`, or undefined when nothing should be drawn now. */
  line(p: Progress): string | undefined {
    const now = this.now();
    if (p.done <= 0 || p.total <= 0) return undefined;
    this.first ??= { at: now, done: p.done };
    if (now - this.t0 < SHOW_AFTER_MS) return undefined;
    const own = p.phase.toLowerCase() === this.label.toLowerCase();
    // in a log: a line every PLAIN_INTERVAL_MS, and one whenever the phase changes
    if (!this.tty && this.lastLine !== 0 && now - this.lastLine < PLAIN_INTERVAL_MS && p.phase === this.lastPhase) return undefined;
    this.lastPhase = p.phase;
    if (!this.tty && p.done >= p.total && own) return undefined; // the end needs no line in a log
    this.lastLine = now;
    const frac = Math.min(1, p.done / p.total);
    const width = 20;
    const filled = Math.round(frac * width);
    const phase = own ? '' : `: ${p.phase}`;
    const eta = this.eta(p, frac, now);
    const bar = this.tty ? ` [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]` : '';
    return `${this.label}${phase}${bar} ${(frac * 100).toFixed(0)}% ${p.done}/${p.total} rows${eta ? `, eta ${eta}` : ''}`;
  }

  private eta(p: Progress, frac: number, now: number): string | undefined {
    const first = this.first!;
    const elapsed = now - first.at;
    const rows = p.done - first.done;
    if (frac < ETA_MIN_FRACTION || now - this.t0 < ETA_MIN_MS || rows <= 0 || elapsed <= 0 || frac >= 1) return undefined;
    const seconds = ((p.total - p.done) * elapsed) / rows / 1000;
    if (!Number.isFinite(seconds) || seconds > ETA_MAX_S) return undefined;
    return formatDuration(seconds);
  }

  done(): void {
    if (this.shown && this.tty) this.stream.write(`\r${' '.repeat(99)}\r`);
  }
}

/** 42 s → "42s", 200 s → "3m20s", 4000 s → "1h06m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
