// Bundles attrib for a page with no server (examples/browser/attrib-browser.ts → dist/browser/attrib.js):
// one ES module with the library, TF.js and its cpu backend. Part of `npm run build`; the browser test
// (test/browser/static-page.test.ts) bundles the same entry in memory.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The bundle's entry. */
export const BROWSER_ENTRY = path.join(ROOT, 'examples', 'browser', 'attrib-browser.ts');
/** Where `npm run build` writes it (the example page imports it from there). */
export const BROWSER_BUNDLE = path.join(ROOT, 'dist', 'browser', 'attrib.js');

/** The standalone browser bundle's text. */
export async function bundleBrowserLibrary(minify = true): Promise<string> {
  const out = await esbuild.build({ entryPoints: [BROWSER_ENTRY], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent', minify, define: { 'process.env.NODE_ENV': '"production"' } });
  return out.outputFiles[0]!.text;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const js = await bundleBrowserLibrary();
  mkdirSync(path.dirname(BROWSER_BUNDLE), { recursive: true });
  writeFileSync(BROWSER_BUNDLE, js);
  process.stdout.write(`browser bundle: ${BROWSER_BUNDLE} (${js.length} bytes)\n`);
}
