// What the studio's browser tests share: a studio on the demo models and Debian's Chromium, started
// once per file, and pages that record the app's errors. Screenshots go to test-artifacts/studio/.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './chromium.js';
import { useBackend } from '../backend.js';
import { ROOT } from '../reference.js';
import { startStudio, type Studio } from '../../src/cli/studio/server.js';

export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'studio');

/** Starts a studio on models/ and Chromium before the file's tests, stops both after them. */
export function useStudio(): { readonly studio: () => Studio; readonly browser: () => Browser } {
  let studio: Studio | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await useBackend('cpu');
    studio = await startStudio({ models: path.join(ROOT, 'models') });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await studio?.close();
  });
  return { studio: () => studio!, browser: () => browser! };
}

/** A page whose uncaught exceptions and console errors are collected in `errors`. */
export async function studioPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
  return { page, errors };
}
