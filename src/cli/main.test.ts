// The CLI in-process through main(): bad invocations end in exit 2 and one stderr line, before any
// work (bounded time), with nothing written and no tensor left behind; --version, --help, methods.
import { mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, copyFileSync, existsSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT, examples, referencePath, removeTempDirs, tempDir } from '../../test/reference.js';
import { useBackend } from '../../test/backend.js';
import { attribInProcess as attrib, type InProcessRun } from '../../test/cli-in-process.js';
import { OUTPUT_MARKER } from './outputs.js';
import { loadModel } from '../io/load-model.js';

let tabularInput = '';
beforeAll(async () => {
  await useBackend('cpu');
  const m = await loadModel(TABULAR);
  tabularInput = m.inputNames![0]!;
  m.dispose();
});
afterEach(() => vi.restoreAllMocks());
afterAll(removeTempDirs);

const tmp = () => tempDir('attrib-main-');
const TABULAR = referencePath('tabular_mlp', 'model.json');
const IMAGE_ONNX = referencePath('image_cnn', 'model.onnx');
const TEXT = referencePath('text_cnn', 'model.json');

function exampleFile(m: 'tabular_mlp' | 'image_cnn', rows?: number): string {
  const file = path.join(tmp(), 'x.json');
  const x = examples(m);
  const shape = [rows ?? x.shape[0]!, ...x.shape.slice(1)];
  const data = Array.from(x.dataSync()).slice(0, shape.reduce((a, b) => a * b, 1));
  writeFileSync(file, JSON.stringify({ shape, data }));
  x.dispose();
  return file;
}

/** The reference text CNN's vocabulary (50 ids), or a longer one. */
function vocabFile(extra = 0): string {
  const words = ['<pad>', 'great', 'superb', 'lovely', 'awful', 'dull', 'bad', ...Array.from({ length: 43 + extra }, (_, i) => `w${i + 7}`)];
  const file = path.join(tmp(), 'vocab.txt');
  writeFileSync(file, `${words.join('\n')}\n`);
  return file;
}

/** A valid PNG signature and IHDR claiming width × height, with a tiny IDAT: refused from the header alone. */
function hugePng(width: number, height: number): string {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1024 * 1024))), chunk('IEND', Buffer.alloc(0))]);
  const file = path.join(tmp(), 'huge.png');
  writeFileSync(file, png);
  return file;
}

/** A copy of the tabular model whose weights.bin is a symbolic link to a file outside its folder. */
function symlinkedWeightsModel(): string {
  const dir = tmp();
  const outside = path.join(tmp(), 'elsewhere.bin');
  copyFileSync(referencePath('tabular_mlp', 'weights.bin'), outside);
  copyFileSync(TABULAR, path.join(dir, 'model.json'));
  symlinkSync(outside, path.join(dir, 'weights.bin'));
  return path.join(dir, 'model.json');
}

type Case = readonly [name: string, args: () => string[], code: string];

// Each case runs with `--out <fresh dir>/out` where the command takes one: nothing may appear there.
const EXPLAIN_CASES: readonly Case[] = [
  ['--steps 1e9', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '1e9'], 'invalid_argument'],
  ['--steps 1e9 with --max-evaluations 1000', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '1e9', '--max-evaluations', '1000'], 'invalid_argument'],
  ['--steps 5000 on the gauss-legendre rule', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '5000'], 'invalid_argument'],
  ['--steps 0', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '0'], 'invalid_argument'],
  ['--steps 2.5', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '2.5'], 'invalid_argument'],
  ['--steps 1e300 (not a safe integer)', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '1e300'], 'invalid_argument'],
  ['lime --samples 1e12', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--method', 'lime', '--samples', '1e12'], 'invalid_argument'],
  ['kernel-shap --samples -4', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--method', 'kernel-shap', '--samples', '-4'], 'invalid_argument'],
  ['--batch-size 0', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--batch-size', '0'], 'invalid_argument'],
  ['--threads 0', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--threads', '0'], 'invalid_argument'],
  ['--max-evaluations -3', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--max-evaluations', '-3'], 'invalid_argument'],
  ['--rule simpson', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--rule', 'simpson'], 'invalid_argument'],
  ['a 20000×20000 PNG', () => ['--model', IMAGE_ONNX, '--input', hugePng(20000, 20000), '--method', 'saliency'], 'invalid_file'],
  ['a PNG over --max-pixels', () => ['--model', path.join(ROOT, 'models', 'demo-image', 'model.json'), '--input', path.join(ROOT, 'models', 'demo-image', 'sample-1.png'), '--method', 'saliency', '--max-pixels', '100'], 'invalid_file'],
  ['a folder as --input', () => ['--model', TABULAR, '--input', tmp(), '--method', 'saliency'], 'invalid_file'],
  ['weights.bin linked out of the model folder', () => ['--model', symlinkedWeightsModel(), '--input', exampleFile('tabular_mlp'), '--method', 'saliency'], 'invalid_model'],
  ['--input with --text', () => ['--model', TEXT, '--input', exampleFile('tabular_mlp'), '--text', 'great', '--vocab', vocabFile()], 'invalid_argument'],
  ['neither --input nor --text', () => ['--model', TABULAR], 'invalid_argument'],
  ['--inputs naming no model input', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--method', 'saliency', '--inputs', `nope=${exampleFile('tabular_mlp')}`], 'invalid_argument'],
  ['--inputs naming the explained input', () => ['--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--method', 'saliency', '--inputs', `${tabularInput}=${exampleFile('tabular_mlp')}`], 'invalid_argument'],
  ['--feature-mask grid:0', () => ['--model', IMAGE_ONNX, '--input', exampleFile('image_cnn', 1), '--method', 'feature-ablation', '--feature-mask', 'grid:0'], 'invalid_argument'],
  ['--feature-mask slic:-5', () => ['--model', IMAGE_ONNX, '--input', exampleFile('image_cnn', 1), '--method', 'feature-ablation', '--feature-mask', 'slic:-5'], 'invalid_argument'],
  ['--feature-mask slic:0', () => ['--model', IMAGE_ONNX, '--input', exampleFile('image_cnn', 1), '--method', 'feature-ablation', '--feature-mask', 'slic:0'], 'invalid_argument'],
  ['empty --text', () => ['--model', TEXT, '--text', '', '--vocab', vocabFile()], 'invalid_argument'],
  ['blank --text', () => ['--model', TEXT, '--text', '   ', '--vocab', vocabFile()], 'invalid_argument'],
  ['a vocabulary larger than the embedding', () => ['--model', TEXT, '--text', 'great w9', '--vocab', vocabFile(20)], 'invalid_argument'],
  ['JSON 1e999', () => ['--model', TABULAR, '--input', jsonFile('[[1e999,0,0,0,0,0,0,0,0,0,0,0]]'), '--method', 'saliency'], 'invalid_file'],
  ['JSON 1e39 (beyond float32)', () => ['--model', TABULAR, '--input', jsonFile('[[1e39,0,0,0,0,0,0,0,0,0,0,0]]'), '--method', 'saliency'], 'invalid_file'],
];

function jsonFile(text: string): string {
  const file = path.join(tmp(), 'x.json');
  writeFileSync(file, text);
  return file;
}

/** Exit 2, one stderr line starting with the code, nothing written, no tensor left, quick. */
function expectRefused(r: InProcessRun, code: string, outDir: string, label: string): void {
  expect(r.code, `${label}: ${r.stderr}`).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, label).toHaveLength(1);
  expect(lines[0]!.startsWith(`attrib: ${code}: `), `${label}: ${lines[0]}`).toBe(true);
  expect(r.stdout).toBe('');
  expect(readdirSync(outDir), label).toEqual([]);
  expect(r.leaked, label).toBe(0);
  expect(r.ms, label).toBeLessThan(15_000);
}

describe('attrib explain refuses bad input before any work (in-process)', () => {
  it.each(EXPLAIN_CASES)('%s', async (label, args, code) => {
    const outDir = tmp();
    const r = await attrib('explain', ...args(), '--backend', 'cpu', '--out', path.join(outDir, 'out'));
    expectRefused(r, code, outDir, label);
  });

  it('refuses 1e9 riemann steps in well under the time the work would take', async () => {
    // the hang of the issue: 1e9 steps; refused in milliseconds once the model is loaded
    const outDir = tmp();
    const r = await attrib('explain', '--model', TABULAR, '--input', exampleFile('tabular_mlp'), '--steps', '1e9', '--rule', 'riemann-middle', '--backend', 'cpu', '--out', path.join(outDir, 'o'));
    expectRefused(r, 'invalid_argument', outDir, 'riemann 1e9');
    expect(r.ms).toBeLessThan(5_000);
  });
});

describe('attrib evaluate refuses bad sizes before any work', () => {
  it.each([
    ['--batch-size 0', ['--batch-size', '0']],
    ['--steps 0', ['--steps', '0']],
    ['--samples 1e12', ['--samples', '1e12']],
    ['--feature-mask grid:0', ['--feature-mask', 'grid:0']],
    ['--methods magic', ['--methods', 'magic'], 'unknown_method'],
    ['a missing --input (the loaded model is released)', ['--input', '/nonexistent/x.json'], 'invalid_file'],
    ['a missing --baseline file (model and input released)', ['--baseline', '/nonexistent/b.json'], 'invalid_file'],
  ] satisfies readonly (readonly [string, readonly string[], string?])[])('%s', async (...[label, extra, code = 'invalid_argument']: readonly [string, readonly string[], string?]) => {
    const outDir = tmp();
    const r = await attrib('evaluate', '--model', TABULAR, '--input', exampleFile('tabular_mlp'), ...extra, '--backend', 'cpu', '--out', path.join(outDir, 'o'));
    expectRefused(r, code, outDir, label);
  });
});

describe('--out is checked first and written atomically', () => {
  const args = () => ['explain', '--model', TABULAR, '--input', exampleFile('tabular_mlp', 2), '--method', 'saliency', '--backend', 'cpu', '--quiet'];

  it('refuses an existing file as an output folder, a folder of foreign files, a path under a file and a report.html folder; nothing changes', async () => {
    const dir = tmp();
    const file = path.join(dir, 'notes.txt');
    writeFileSync(file, 'keep me');
    const foreign = path.join(dir, 'photos');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'a.jpg'), 'x');
    const withReportDir = path.join(dir, 'old');
    mkdirSync(path.join(withReportDir, 'report.html'), { recursive: true });
    for (const out of [file, foreign, path.join(file, 'sub'), withReportDir, path.join(dir, 'photos', '..', 'notes.txt', 'r.json')]) {
      const r = await attrib(...args(), '--out', out);
      expect(r.code, out).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), out).toHaveLength(1);
      expect(r.stderr.startsWith('attrib: invalid_argument: '), r.stderr).toBe(true);
      expect(r.leaked).toBe(0);
    }
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(readdirSync(foreign)).toEqual(['a.jpg']);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'old', 'photos']);
    expect(readdirSync(withReportDir)).toEqual(['report.html']);
  });

  it.skipIf(process.getuid?.() === 0)('refuses an unwritable folder (not as root)', async () => {
    const dir = tmp();
    const ro = path.join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const r = await attrib(...args(), '--out', path.join(ro, 'out'));
    chmodSync(ro, 0o755);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^attrib: invalid_argument: /);
    expect(readdirSync(ro)).toEqual([]);
  });

  it('replaces a previous output folder as a whole (no stale heatmaps) and an existing .json file', async () => {
    const dir = tmp();
    const out = path.join(dir, 'run');
    const eight = await attrib('explain', '--model', IMAGE_ONNX, '--input', exampleFile('image_cnn'), '--method', 'occlusion', '--window', '8,8,3', '--strides', '8,8,3', '--quiet', '--out', out);
    expect(eight.code, eight.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['heatmap-7.png', OUTPUT_MARKER]));
    const one = await attrib('explain', '--model', IMAGE_ONNX, '--input', exampleFile('image_cnn', 1), '--method', 'occlusion', '--window', '8,8,3', '--strides', '8,8,3', '--quiet', '--out', out);
    expect(one.code, one.stderr).toBe(0);
    const files = readdirSync(out);
    expect(files).toContain('heatmap-0.png');
    expect(files).not.toContain('heatmap-1.png');
    expect(files).not.toContain('heatmap-7.png');
    expect(JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')).shape).toEqual([1, 32, 32, 3]);
    expect(readdirSync(dir)).toEqual(['run']); // no temporary folder left beside it
    expect(statSync(out).mode & 0o777).toBe(0o777 & ~process.umask()); // a folder's usual mode, not mkdtemp's 0700

    const json = path.join(dir, 'r.json');
    writeFileSync(json, 'old');
    const r = await attrib(...args(), '--out', json);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).shape).toEqual([2, 12]);
    expect(readdirSync(dir).sort()).toEqual(['r.json', 'run']);
  });
});

describe('the default engine and method combinations', () => {
  it('noise-tunnel around a rules method (guided backprop) runs on TF.js under --engine auto', async () => {
    const r = await attrib('explain', '--model', TABULAR, '--input', exampleFile('tabular_mlp', 2), '--backend', 'cpu', '--method', 'noise-tunnel', '--inner', 'guided-backprop', '--samples', '2', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).shape).toEqual([2, 12]);
    expect(r.leaked).toBe(0);
  });

  it('a slic compactness with an exponent is read as a number, not as a mask file', async () => {
    const img = path.join(ROOT, 'models', 'demo-image', 'sample-0.png');
    const r = await attrib('explain', '--model', path.join(ROOT, 'models', 'demo-image', 'model.json'), '--input', img, '--method', 'feature-ablation', '--feature-mask', 'slic:6:1e1', '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.leaked).toBe(0);
  });
});

describe('text inputs', () => {
  it('warns in one line when a text is longer than the model reads, and still explains it', async () => {
    const words = Array.from({ length: 15 }, (_, i) => `w${10 + i}`).join(' ');
    const r = await attrib('explain', '--model', TEXT, '--text', words, '--vocab', vocabFile(), '--steps', '4', '--quiet', '--backend', 'cpu');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^attrib: warning: /);
    expect(lines[0]).toContain('15');
    expect(JSON.parse(r.stdout).shape).toEqual([1, 12, 16]);
    expect(r.leaked).toBe(0);
  });
});

describe('--version, --help and methods', () => {
  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await attrib(flag);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  it.each(['explain', 'evaluate', 'methods', 'demo', 'benchmark'])('attrib %s --help lists its options with defaults, within 100 columns', async (command) => {
    const r = await attrib(command, '--help');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^attrib ${command}: `));
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    if (command !== 'methods') expect(r.stdout).toMatch(/--out .*\(default|--out VALUE/);
    if (command === 'explain') expect(r.stdout).toMatch(/--batch-size N\s+max rows per model call \(1 to \d+; default 128\)/);
  });

  it('attrib explain --method ID --help adds the method options with their allowed values', async () => {
    const r = await attrib('explain', '--method', 'integrated-gradients', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--rule riemann-left|riemann-right|riemann-middle|trapezoid|trapezoid-captum|gauss-legendre');
    expect(r.stdout).toMatch(/--steps N .*default 50/);
  });

  it('attrib methods fits 100 columns; attrib methods ID shows one method', async () => {
    const r = await attrib('methods');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(lines.filter((l) => /^(saliency|kernel-shap|lima|lrp) /.test(l))).toHaveLength(4);
    const d = await attrib('methods', 'integrated-gradients');
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^Integrated Gradients \(integrated-gradients\)/);
    expect(d.stdout).toMatch(/family\s+gradient/);
    expect(d.stdout).toMatch(/cost\s+batch × \(steps \+ 2\)/);
    expect(d.stdout).toMatch(/reference\s+Sundararajan/);
    expect(d.stdout).toMatch(/--steps N .*default 50/);
    for (const line of d.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    const bad = await attrib('methods', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^attrib: unknown_method: /);
    expect(existsSync(path.join(ROOT, 'nope'))).toBe(false);
  });
});
