import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA_DIR, dataNpy } from '../../../test/data-reference.js';
import { attrib } from '../../../test/run-cli.js';
import { exitCodeFor } from '../../core/errors.js';
import { leaveOneOutCorrelation } from '../../data/evaluation.js';
import { encodeNpy, parseNpy } from '../../io/npy.js';
import { tensorToJsonValue } from '../../io/tensor-json.js';
import { floatTensor, intAttr, makeModel, node } from '../../models/onnx/graph/build.js';
import { encodeModel } from '../../models/onnx/grad/compile.js';
import { dataCommand } from './data.js';

const dir = mkdtempSync(path.join(tmpdir(), 'attrib-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (p: string) => path.join(DATA_DIR, p);
const args = (model: string, extra: Record<string, string>) =>
  new Map<string, string | true>(Object.entries({ model: f(`models/${model}.onnx`), 'train-x': f('arrays/train-x.npy'), 'train-y': f('arrays/train-y.npy'), 'test-x': f('arrays/test-x.npy'), 'test-y': f('arrays/test-y.npy'), quiet: 'true', ...extra }));

describe('attrib data', () => {
  it('--out scores.npy writes float32 [n_test, n_train] influence scores that track leave-one-out', async () => {
    const out = path.join(dir, 'scores.npy');
    const r = await dataCommand(args('lr', { l2: '0.01', out }));
    expect(r.files).toEqual([out]);
    const t = parseNpy(new Uint8Array(readFileSync(out)));
    expect(t.shape).toEqual([50, 128]);
    expect(t.dtype).toBe('float32');
    expect(leaveOneOutCorrelation(t.data, dataNpy('reference/lr-loo.npy').data, 50, 128).pearson).toBeGreaterThan(0.89);
  });

  it('--batch-mib streams the training set in smaller batches without changing the scores', async () => {
    const [a, b] = [path.join(dir, 'dot-a.npy'), path.join(dir, 'dot-b.npy')];
    await dataCommand(args('lr', { method: 'grad-dot', out: a }));
    await dataCommand(args('lr', { method: 'grad-dot', 'batch-mib': '0.002', out: b })); // 4 rows of 42 + 13 + 1 doubles
    expect(parseNpy(new Uint8Array(readFileSync(b))).data).toEqual(parseNpy(new Uint8Array(readFileSync(a))).data);
    // tensor JSON training files cannot be streamed: read whole, the same scores
    const json = (name: string) => {
      const at = path.join(dir, name.replace('.npy', '.json'));
      const t = dataNpy(`arrays/${name}`);
      writeFileSync(at, JSON.stringify(tensorToJsonValue({ ...t, dtype: t.data instanceof Int32Array ? 'int32' : 'float32' })));
      return at;
    };
    const c = path.join(dir, 'dot-c.npy');
    await dataCommand(args('lr', { method: 'grad-dot', 'train-x': json('train-x.npy'), 'train-y': json('train-y.npy'), out: c }));
    expect(parseNpy(new Uint8Array(readFileSync(c))).data).toEqual(parseNpy(new Uint8Array(readFileSync(a))).data);
  });

  it('--seed makes runs identical: the same seed the same projected TRAK scores, another seed others', async () => {
    const run = async (seed: string, name: string) => {
      const out = path.join(dir, name);
      await dataCommand(args('lr', { method: 'trak', l2: '0.01', 'projection-dim': '16', seed, out }));
      return Array.from(parseNpy(new Uint8Array(readFileSync(out))).data);
    };
    const a = await run('3', 'seed-a.npy');
    expect(await run('3', 'seed-b.npy')).toEqual(a);
    expect(await run('4', 'seed-c.npy')).not.toEqual(a);
  });

  it('--out DIR adds result.json with sorted top proponents and opponents, and report.html', async () => {
    const out = path.join(dir, 'trak');
    await dataCommand(args('mlp', { method: 'trak', l2: '0.001', top: '3', out }));
    const json = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { method: string; shape: number[]; tests: { proponents: { score: number }[]; opponents: { score: number }[] }[] };
    expect(json.method).toBe('trak');
    expect(json.shape).toEqual([50, 128]);
    expect(json.tests).toHaveLength(50);
    for (const t of json.tests) {
      expect(t.proponents).toHaveLength(3);
      expect(t.proponents[0]!.score).toBeGreaterThanOrEqual(t.proponents[2]!.score);
      expect(t.opponents[0]!.score).toBeLessThanOrEqual(t.opponents[2]!.score);
      expect(t.proponents[2]!.score).toBeGreaterThanOrEqual(t.opponents[2]!.score);
    }
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('test example 0');
  });

  it('--out DIR on image inputs [n, 1, 6, 6]: the report draws each test image beside its proponents and opponents', async () => {
    const rng = (k: number) => Math.sin(k * 12.9898) * 0.5;
    const flat = makeModel({
      nodes: [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'W', 'b'], ['y'], [intAttr('transB', 1)])],
      inputs: [{ name: 'x', shape: ['n', 1, 6, 6] }],
      outputs: [{ name: 'y', shape: ['n', 2] }],
      initializers: [floatTensor('W', [2, 36], Array.from({ length: 72 }, (_, k) => rng(k))), floatTensor('b', [2], [0, 0])],
    });
    writeFileSync(path.join(dir, 'image.onnx'), encodeModel(flat));
    const images = (n: number, name: string) => {
      writeFileSync(path.join(dir, `${name}-x.npy`), encodeNpy({ shape: [n, 1, 6, 6], dtype: 'float32', data: Float32Array.from({ length: n * 36 }, (_, k) => rng(k + 1000 * n)) }));
      writeFileSync(path.join(dir, `${name}-y.npy`), encodeNpy({ shape: [n], dtype: 'int32', data: Int32Array.from({ length: n }, (_, i) => i % 2) }));
    };
    images(12, 'img-train');
    images(3, 'img-test');
    const out = path.join(dir, 'image-report');
    const a = new Map<string, string | true>(Object.entries({ model: path.join(dir, 'image.onnx'), 'train-x': path.join(dir, 'img-train-x.npy'), 'train-y': path.join(dir, 'img-train-y.npy'), 'test-x': path.join(dir, 'img-test-x.npy'), 'test-y': path.join(dir, 'img-test-y.npy'), method: 'grad-dot', top: '2', quiet: 'true', out }));
    await dataCommand(a);
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(3 * (1 + 2 + 2));
    expect(html).toContain('alt="test 2"');
  });

  it('a TF.js layers model.json is exported to ONNX and scored like its .onnx twin', async () => {
    const ref = path.join(DATA_DIR, '..', 'reference', 'models', 'tabular_mlp');
    const x = path.join(dir, 'x.json');
    const y = path.join(dir, 'y.json');
    writeFileSync(x, JSON.stringify({ shape: [6, 12], data: Array.from({ length: 72 }, (_, k) => Math.sin(k)) }));
    writeFileSync(y, JSON.stringify({ shape: [6], data: [0, 1, 2, 0, 1, 2] }));
    const run = async (model: string) => {
      const out = path.join(dir, `${model}.npy`);
      await dataCommand(new Map<string, string | true>(Object.entries({ model: path.join(ref, model), 'train-x': x, 'train-y': y, 'test-x': x, 'test-y': y, method: 'grad-dot', quiet: 'true', out })));
      return Array.from(parseNpy(new Uint8Array(readFileSync(out))).data);
    };
    expect(await run('model.json')).toEqual(await run('model.onnx'));
  });

  it('bad input exits 2 with one line on stderr naming what was wrong', async () => {
    // labels out of range for the 3 logits; a model with an op that has no gradient rule (Hardmax) between two dense layers
    const y = dataNpy('arrays/test-y.npy');
    writeFileSync(path.join(dir, 'bad-y.npy'), encodeNpy({ shape: y.shape, dtype: 'int32', data: Int32Array.from(y.data, (v, i) => (i === 7 ? 3 : v)) }));
    const hardmax = makeModel({
      nodes: [node('Gemm', ['x', 'W', 'b'], ['h'], [intAttr('transB', 1)]), node('Hardmax', ['h'], ['r']), node('Gemm', ['r', 'V', 'c'], ['y'], [intAttr('transB', 1)])],
      inputs: [{ name: 'x', shape: ['n', 13] }],
      outputs: [{ name: 'y', shape: ['n', 3] }],
      initializers: [floatTensor('W', [4, 13], new Array(52).fill(0.1)), floatTensor('b', [4], [0, 0, 0, 0]), floatTensor('V', [3, 4], new Array(12).fill(0.1)), floatTensor('c', [3], [0, 0, 0])],
    });
    writeFileSync(path.join(dir, 'hardmax.onnx'), encodeModel(hardmax));
    const trainX = readFileSync(f('arrays/train-x.npy'));
    writeFileSync(path.join(dir, 'cut-x.npy'), trainX.subarray(0, trainX.length - 52));
    const base = { model: f('models/lr.onnx'), 'train-x': f('arrays/train-x.npy'), 'train-y': f('arrays/train-y.npy'), 'test-x': f('arrays/test-x.npy'), 'test-y': f('arrays/test-y.npy'), out: path.join(dir, 'x.npy') };
    const cases: [Partial<typeof base> & Record<string, string>, string][] = [
      [{ 'train-y': f('arrays/test-y.npy') }, 'shape_mismatch'], // 50 labels for 128 rows
      [{ 'test-y': path.join(dir, 'bad-y.npy') }, 'got 3 at example 7'],
      [{ 'train-x': path.join(dir, 'cut-x.npy') }, 'is truncated'], // streamed: the header's shape needs more bytes than follow
      [{ model: path.join(dir, 'hardmax.onnx') }, "'Hardmax'"],
      [{ method: 'trak', 'projection-dim': '100' }, 'projection'], // the LR has 42 parameters
    ];
    // one run through the binary (exit 2, one line), the rest through the command: the same error reaches main.ts
    const r = await attrib('data', ...Object.entries({ ...base, ...cases[0]![0] }).flatMap(([k, v]) => [`--${k}`, v]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(cases[0]![1]);
    for (const [change, says] of cases.slice(1)) {
      const e = await dataCommand(new Map(Object.entries({ ...base, ...change, quiet: 'true' }))).catch((err: unknown) => err);
      expect(exitCodeFor(e), JSON.stringify(change)).toBe(2);
      expect((e as Error).message).not.toContain('\n');
      expect((e as Error).message).toContain(says);
    }
  });

  it('MAGIC needs the trainer settings, and with them trains and scores', async () => {
    await expect(dataCommand(args('lr', { method: 'magic', out: path.join(dir, 'm.npy') }))).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'train-steps' } });
    const out = path.join(dir, 'magic');
    await dataCommand(args('lr', { method: 'magic', 'train-steps': '5', 'learning-rate': '0.1', l2: '0.01', out }));
    const json = JSON.parse(readFileSync(path.join(out, 'result.json'), 'utf8')) as { method: string; trainSteps: number; shape: number[] };
    expect(json).toMatchObject({ method: 'magic', trainSteps: 5, shape: [50, 128] });
  });
});
