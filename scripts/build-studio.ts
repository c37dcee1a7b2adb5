// Bundles the studio's single-page app (src/cli/studio/app/) with esbuild into dist/cli/studio/app.js,
// where the compiled server finds it: part of `npm run build`, so `npx attrib studio` works from the package.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleApp, LOCAL_ENTRY } from '../src/cli/studio/assets.js';

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'studio', 'app.js');
mkdirSync(path.dirname(out), { recursive: true });
const js = await bundleApp(true);
writeFileSync(out, js);
process.stdout.write(`studio app: ${out} (${js.length} bytes)\n`);
const local = await bundleApp(true, LOCAL_ENTRY);
writeFileSync(path.join(path.dirname(out), 'local.js'), local);
process.stdout.write(`studio in-browser engine: ${path.join(path.dirname(out), 'local.js')} (${local.length} bytes)\n`);
