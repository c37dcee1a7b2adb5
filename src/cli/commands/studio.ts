import { spawn } from 'node:child_process';
import path from 'node:path';
import { MAX_IMAGE_PIXELS } from '../../io/image.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { engineFor } from '../backend.js';
import { PACKAGE_ROOT } from './demo.js';
import { isLoopback } from '../studio/security.js';
import { startStudio } from '../studio/server.js';

export const STUDIO_FLAGS: readonly FlagSpec[] = [
  { name: 'models', type: 'string', help: 'folder of models (model.json / .onnx, with sample-* inputs beside them); nothing outside it is read (default: the bundled demo models)' },
  { name: 'port', type: 'int', help: 'port; 0 lets the system pick a free one', default: 7860, min: 0, max: 65535 },
  { name: 'host', type: 'string', help: 'address to listen on; anything but loopback lets other machines reach the studio', default: '127.0.0.1' },
  { name: 'open', type: 'bool', help: 'open the start URL in the default browser' },
  { name: 'engine', type: 'string', help: 'runtime of model.json models: auto, onnx or tfjs', default: 'auto' },
  { name: 'max-upload', type: 'int', help: 'largest upload, in MiB', default: 16, min: 1, max: 1024 },
  { name: 'max-pixels', type: 'int', help: 'largest image input decoded, in pixels', default: MAX_IMAGE_PIXELS, min: 1 },
  { name: 'backend', type: 'string', help: 'TF.js backend: wasm or cpu', default: 'wasm' },
];

/**
 * `attrib studio`: serves the studio until `signal` fires (Ctrl-C), then stops it. Prints the start
 * URL (with the session token) on stdout, and a warning on stderr when listening beyond loopback.
 */
export async function studioCommand(raw: Map<string, string | true>, signal: AbortSignal, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`), err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  const flags = parseFlags(raw, STUDIO_FLAGS, 'studio');
  const host = String(flags.get('host') ?? '127.0.0.1');
  const engine = engineFor(flags.get('engine'), []).engine;
  const studio = await startStudio({
    models: path.resolve(String(flags.get('models') ?? path.join(PACKAGE_ROOT, 'models'))),
    host,
    port: Number(flags.get('port') ?? 7860),
    engine,
    maxUploadBytes: Number(flags.get('max-upload') ?? 16) * 2 ** 20,
    maxPixels: Number(flags.get('max-pixels') ?? MAX_IMAGE_PIXELS),
    log: err,
  });
  const warning = hostWarning(host);
  if (warning) err(warning);
  out(`attrib studio: ${studio.url}`);
  out('(Ctrl-C stops it)');
  if (flags.get('open') === true) openBrowser(studio.url, err);
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  await studio.close();
}

/** The warning printed when the studio listens beyond loopback (`--host`), else undefined. */
export function hostWarning(host: string): string | undefined {
  if (isLoopback(host)) return undefined;
  return `attrib: warning: the studio listens on ${host}, not on loopback: anyone who can reach this address and has the URL's token can run the models and read the models folder`;
}

/** Opens `url` with the system's opener; a failure is a note, not an error. */
function openBrowser(url: string, err: (line: string) => void): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', () => err(`attrib: could not open a browser (${cmd}); open the URL above`));
  child.unref();
}
