// The package as a user gets it: built, packed, installed in an empty project with the README's
// install line only (no onnxruntime-node, no tfjs-converter), then a library snippet and
// `npx attrib explain` run from there; loading an .onnx file names the missing package.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, referencePath } from './reference.js';
import { bundleApp } from '../src/cli/studio/assets.js';

const exec = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** The README's install line, with the packed tarball in place of the registry's `attrib`. */
function installLine(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const line = /^npm install attrib (.+)$/m.exec(readme);
  if (!line) throw new Error("README.md has no 'npm install attrib …' line");
  return line[1]!.split(/\s+/).filter((p) => p && !p.startsWith('#'));
}

const run = async (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) => {
  try {
    const r = await exec(cmd, args, { cwd, env: { ...process.env, ATTRIB_CACHE_DIR: 'off', ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
};

describe('the packed package, installed with the README line', () => {
  let work: string;
  let project: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'attrib-pack-'));
    // build into a staging copy (the repository's own dist/ is left alone), then pack it
    const stage = path.join(work, 'stage');
    mkdirSync(stage);
    const tsc = await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(stage, 'dist')], ROOT);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
    // the studio's app bundle, as `npm run build` writes it beside the compiled server
    writeFileSync(path.join(stage, 'dist', 'cli', 'studio', 'app.js'), await bundleApp(true));
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin', 'models']) {
      try {
        cpSync(path.join(ROOT, f), path.join(stage, f), { recursive: true });
      } catch {
        // LICENSE may not exist yet
      }
    }
    const pack = await run(npm, ['pack', '--pack-destination', work, '--ignore-scripts'], stage);
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = path.join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
    project = path.join(work, 'project');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'attrib-user', version: '1.0.0', private: true, type: 'module' }));
    const install = await run(npm, ['install', tarball, ...installLine(), '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline'], project);
    expect(install.code, install.stderr).toBe(0);
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs without the optional peers', () => {
    const has = (p: string) => readdirSync(path.join(project, 'node_modules', ...p.split('/').slice(0, -1))).includes(p.split('/').pop()!);
    expect(has('attrib')).toBe(true);
    expect(has('@tensorflow/tfjs-core')).toBe(true);
    expect(has('onnxruntime-node')).toBe(false);
    expect(has('@tensorflow/tfjs-converter')).toBe(false);
  });

  it('runs a library snippet: a model.json on TF.js (auto without onnxruntime-node), an .onnx file names the missing package', async () => {
    writeFileSync(
      path.join(project, 'snippet.js'),
      `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { IntegratedGradients, KernelShap } from 'attrib';
import { loadModel } from 'attrib/node';
await tf.setBackend('wasm');
const model = await loadModel('node_modules/attrib/models/demo-tabular/model.json');
const x = tf.randomUniform([2, 10], -1, 1, 'float32', 7);
const ig = await new IntegratedGradients(model).attribute(x, { target: [0, 1], steps: 64, rule: 'gauss-legendre' });
const shap = await new KernelShap(model).attribute(x, { target: [0, 1], samples: 400, seed: 1 });
const [fx, f0] = [await model.forward(x), await model.forward(tf.zerosLike(x))];
const gap = [0, 1].map((i) => fx.arraySync()[i][i] - f0.arraySync()[i][i]);
const phiSums = tf.sum(shap.values, 1).arraySync();
const onnx = await loadModel(process.argv[2]).then(() => null, (e) => ({ code: e.code, details: e.details }));
console.log(JSON.stringify({ engine: model.engine, diagnostics: ig.diagnostics.engine, shape: ig.values.shape, delta: Array.from(ig.diagnostics.convergenceDelta), gap, phiSums, onnx }));
`,
    );
    const r = await run(process.execPath, ['snippet.js', referencePath('tabular_mlp', 'model.onnx')], project);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { engine: string; diagnostics: string; shape: number[]; delta: number[]; gap: number[]; phiSums: number[]; onnx: { code: string; details: Record<string, string> } };
    expect(out.engine).toBe('tfjs');
    expect(out.diagnostics).toBe('tfjs');
    expect(out.shape).toEqual([2, 10]);
    // IG's completeness gap is small against F(x) − F(0); KernelSHAP is efficient: Σφ = F(x) − F(0)
    out.delta.forEach((d, i) => expect(Math.abs(d)).toBeLessThan(0.05 * Math.abs(out.gap[i]!) + 1e-3));
    out.phiSums.forEach((s, i) => expect(Math.abs(s - out.gap[i]!)).toBeLessThan(1e-3 + 1e-3 * Math.abs(out.gap[i]!)));
    expect(out.onnx).toEqual({ code: 'capability_missing', details: { package: 'onnxruntime-node', install: 'npm install onnxruntime-node', reason: 'not_installed' } });
  }, 120_000);

  it("runs the README's library example (examples/quickstart.ts with the package's import paths)", async () => {
    const source = readFileSync(path.join(ROOT, 'examples', 'quickstart.ts'), 'utf8')
      .replace(/'\.\.\/src\/index\.js'; \/\/ 'attrib'/, "'attrib';")
      .replace(/'\.\.\/src\/node\.js'; \/\/ 'attrib\/node'/, "'attrib/node';");
    expect(source).toMatch(/from 'attrib';/);
    const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
    writeFileSync(path.join(project, 'quickstart.js'), js);
    writeFileSync(path.join(project, 'run-quickstart.js'), "import { quickstart } from './quickstart.js';\nconsole.log(JSON.stringify(await quickstart('node_modules/attrib/models/demo-image/model.json')));\n");
    const r = await run(process.execPath, ['run-quickstart.js'], project);
    expect(r.code, r.stderr).toBe(0);
    const sums = JSON.parse(r.stdout.trim().split('\n').pop()!) as number[];
    expect(sums).toHaveLength(2);
    for (const s of sums) expect(Number.isFinite(s)).toBe(true);
  }, 120_000);

  it('npx attrib explain runs on a bundled model, and names onnxruntime-node for an .onnx file', async () => {
    const args = ['attrib', 'explain', '--model', 'node_modules/attrib/models/demo-tabular', '--input', 'node_modules/attrib/models/demo-tabular/inputs.json', '--method', 'saliency'];
    const r = await run(npx, [...args, '--quiet'], project);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { method: string; shape: number[]; diagnostics: { engine: string } };
    expect(res.method).toBe('saliency');
    expect(res.shape).toEqual([8, 10]);
    expect(res.diagnostics.engine).toBe('tfjs');
    const onnx = await run(npx, ['attrib', 'explain', '--model', referencePath('tabular_mlp', 'model.onnx'), '--input', 'node_modules/attrib/models/demo-tabular/inputs.json', '--method', 'saliency', '--quiet'], project);
    expect(onnx.code).toBe(2);
    expect(onnx.stderr.trim().split('\n')).toHaveLength(1);
    expect(onnx.stderr).toMatch(/^attrib: capability_missing: .*'onnxruntime-node'.*npm install onnxruntime-node/);
  }, 120_000);

  it('npx attrib studio serves the app from the package (its built bundle, the bundled models)', async () => {
    // the command npx runs (node_modules/.bin/attrib), started with node so that SIGINT reaches it
    const child = spawn(process.execPath, [path.join('node_modules', '.bin', 'attrib'), 'studio', '--port', '0', '--backend', 'cpu'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ATTRIB_CACHE_DIR: 'off' } });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => reject(new Error(`no start URL after 60 s: ${out} ${err}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /attrib studio: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
          if (m) (clearTimeout(timer), resolve(m[1]!));
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`studio exited ${code}: ${err}`))));
      });
      const token = new URL(url).searchParams.get('token')!;
      const origin = new URL(url).origin;
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/app.js');
      const js = await fetch(`${origin}/app.js`);
      expect(js.status).toBe(200);
      expect((await js.text()).length).toBeGreaterThan(5000);
      expect((await fetch(`${origin}/api/models`)).status).toBe(403);
      const models = (await (await fetch(`${origin}/api/models`, { headers: { 'x-attrib-token': token } })).json()) as { models: { id: string }[] };
      expect(models.models.map((m) => m.id)).toEqual(['demo-image', 'demo-tabular', 'demo-text', 'demo-wine-data']);
    } finally {
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  }, 120_000);
});
