import type { Progress } from '../core/types.js';

/**
 * A progress bar on stderr, shown only once work has taken more than `delayMs`. On a terminal it
 * redraws one line; elsewhere (CI logs) it prints a line every few seconds.
 */
export class ProgressBar {
  private readonly t0 = Date.now();
  private shown = false;
  private lastLine = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly delayMs = 1000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update = (p: Progress): void => {
    if (!this.enabled) return;
    const now = Date.now();
    const elapsed = now - this.t0;
    if (elapsed < this.delayMs) return;
    if (!this.tty && now - this.lastLine < 3000) return;
    this.lastLine = now;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const eta = frac > 0 ? ((elapsed / frac - elapsed) / 1000).toFixed(1) : '?';
    const line = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0)}% ${p.done}/${p.total} rows, ${p.phase}, eta ${eta}s`;
    if (this.tty) this.stream.write(`\r${line.padEnd(100)}`);
    else this.stream.write(`${line}\n`);
    this.shown = true;
  };

  done(): void {
    if (this.shown && this.tty) this.stream.write(`\r${' '.repeat(100)}\r`);
  }
}
