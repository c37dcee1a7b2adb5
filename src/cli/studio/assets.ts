// The studio page: its HTML, its style sheet, and its script: the bundle `npm run build` writes
// beside this file (dist/cli/studio/app.js), or, when running from the sources, one esbuild makes
// from app/main.ts on first request.
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapabilityError } from '../../core/errors.js';
import { KIND_CSS } from './app/kind-style.js';
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
/** The entry of the in-browser engine's bundle (`/local.js`, loaded when "run in browser" is first used). */
export const LOCAL_ENTRY = fileURLToPath(new URL('./app/local.ts', import.meta.url));
const BUILT = new URL('./app.js', import.meta.url);
const BUILT_LOCAL = new URL('./local.js', import.meta.url);

/**
 * Bundles the app with esbuild (a development dependency: present when running from the sources
 * and at build time).
 * @throws {CapabilityError} `capability_missing` when esbuild is not installed.
 */
export async function bundleApp(minify = false, entry = APP_ENTRY): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new CapabilityError(`The studio's script is not built (no ${fileURLToPath(entry === APP_ENTRY ? BUILT : BUILT_LOCAL)}) and esbuild is not installed to build it: run 'npm run build'`, { package: 'esbuild' }, e);
  }
  const out = await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent', minify, define: { 'process.env.NODE_ENV': '"production"' } });
  return out.outputFiles[0]!.text;
}

let localBundle: Promise<string> | undefined;

/** The page's assets, read or built once; `local()` is the in-browser engine's bundle, built on first use. */
export function studioAssets(): StudioAssets {
  let js: Promise<string> | undefined;
  const get = async () => {
    js ??= fs.readFile(BUILT, 'utf8').catch(() => bundleApp());
    return { html: STUDIO_HTML, js: await js, css: STUDIO_CSS + KIND_CSS };
  };
  return Object.assign(get, {
    // read or built once per process: the engine bundle is large (TF.js, onnxruntime-web) and the same for every studio
    local: () => (localBundle ??= fs.readFile(BUILT_LOCAL, 'utf8').catch(() => bundleApp(false, LOCAL_ENTRY))),
    engineFile: readEngineFile,
  });
}

/** The page's HTML, script and style sheet; the in-browser engine's script; its wasm binaries. */
export type StudioAssets = (() => Promise<{ html: string; js: string; css: string }>) & {
  readonly local: () => Promise<string>;
  readonly engineFile: (folder: 'wasm' | 'ort', name: string) => Promise<Uint8Array | undefined>;
};

/** The files the in-browser engine may ask for, by URL folder: TF.js's wasm binaries (plain, SIMD, threaded SIMD) and onnxruntime-web's wasm with its loader (plain, and the JSEP build its default entry uses). */
export const ENGINE_FILES: Readonly<Record<'wasm' | 'ort', { readonly pkg: string; readonly names: readonly string[] }>> = {
  wasm: { pkg: '@tensorflow/tfjs-backend-wasm', names: ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] },
  ort: { pkg: 'onnxruntime-web', names: ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'] },
};

/** One of ENGINE_FILES, read from the installed package's dist/ (never from the network); undefined for any other name. */
async function readEngineFile(folder: 'wasm' | 'ort', name: string): Promise<Uint8Array | undefined> {
  const { pkg, names } = ENGINE_FILES[folder];
  if (!names.includes(name)) return undefined;
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve(pkg);
  } catch {
    return undefined; // not installed (an optional peer): the page says the engine could not start
  }
  // the package's main file sits in (or under) dist/, beside the binaries
  let dir = path.dirname(main);
  while (path.basename(dir) !== 'dist' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return fs.readFile(path.join(dir, name)).catch(() => undefined);
}
