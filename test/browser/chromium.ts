// Debian's Chromium for the browser tests (no browser download): where it is and how it is started.
import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';

/** The Chromium on PATH (`apt-get install chromium`; .ci/run installs it). */
export function chromiumPath(): string {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      /* try the next name */
    }
  }
  throw new Error('Chromium is not installed: apt-get install chromium (.ci/run does this)');
}

/** Launches headless Chromium with the flags the tests use (no sandbox, no GPU, no background traffic). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
