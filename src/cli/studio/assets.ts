// The studio page: its HTML, its style sheet, and its script: the bundle `npm run build` writes
// beside this file (dist/cli/studio/app.js), or, when running from the sources, one esbuild makes
// from app/main.ts on first request.
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CapabilityError } from '../../core/errors.js';
import { STUDIO_CSS } from './app/style.js';

/** The page: no inline script or style (the CSP allows neither). */
export const STUDIO_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>attrib studio</title>
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<noscript>attrib studio needs JavaScript.</noscript>
</body>
</html>
`;

/** The entry of the app's bundle (a .ts file when running from the sources). */
export const APP_ENTRY = fileURLToPath(new URL('./app/main.ts', import.meta.url));
const BUILT = new URL('./app.js', import.meta.url);

/**
 * Bundles the app with esbuild (a development dependency: present when running from the sources
 * and at build time).
 * @throws {CapabilityError} `capability_missing` when esbuild is not installed.
 */
export async function bundleApp(minify = false): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new CapabilityError(`The studio's script is not built (no ${fileURLToPath(BUILT)}) and esbuild is not installed to build it: run 'npm run build'`, { package: 'esbuild' }, e);
  }
  const out = await esbuild.build({ entryPoints: [APP_ENTRY], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent', minify });
  return out.outputFiles[0]!.text;
}

/** The page's assets, read or built once. */
export function studioAssets(): () => Promise<{ html: string; js: string; css: string }> {
  let js: Promise<string> | undefined;
  return async () => {
    js ??= fs.readFile(BUILT, 'utf8').catch(() => bundleApp());
    return { html: STUDIO_HTML, js: await js, css: STUDIO_CSS };
  };
}
