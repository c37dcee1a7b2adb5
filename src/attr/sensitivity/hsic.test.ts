import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { regionBlackBox, regionMask } from '../../../test/reference-models.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, reference, referencePath } from '../../../test/reference.js';
import { fromBatchFunction } from '../../models/batch-function.js';
import { fromOnnx } from '../../models/onnx/node.js';
import { groundTruthScores } from '../../metrics/ground-truth.js';
import { binaryDesign, Hsic, hsicScores } from './hsic.js';

beforeAll(() => useBackend('wasm'));


describe('HSIC attribution', () => {
  it('designs are balanced binary masks; a variable the output ignores scores ≈ 0', () => {
    const d = binaryDesign(5, 256, { scramble: true, seed: 3 });
    for (let i = 0; i < 5; i++) {
      let on = 0;
      for (let n = 0; n < 256; n++) on += d[n * 5 + i]!;
      expect(Math.abs(on / 256 - 0.5)).toBeLessThan(0.05);
    }
    // y = 3·m0 + m1·m2 (variables 3 and 4 unused)
    const y = Array.from({ length: 256 }, (_, n) => 3 * d[n * 5]! + d[n * 5 + 1]! * d[n * 5 + 2]!);
    const s = hsicScores(d, y, 256, 5);
    console.log(`HSIC scores of y = 3·m0 + m1·m2: ${Array.from(s, (v) => v.toFixed(4)).join(', ')}`);
    expect(s[0]!).toBeGreaterThan(5 * Math.max(s[1]!, s[2]!));
    expect(Math.min(s[1]!, s[2]!)).toBeGreaterThan(10 * Math.max(Math.abs(s[3]!), Math.abs(s[4]!)));
  });

  it('finds the region an async black box reads and the class cell of the ONNX CNN', async () => {
    const box = regionBlackBox();
    const x = tf.randomUniform([1, 32, 32, 3], 0.2, 1, 'float32', 3);
    const a = await new Hsic(box).attribute(x, { target: 0, designs: 256, gridSize: 8, seed: 1 });
    const mass = (await groundTruthScores(a.values, regionMask(32, 32, 3, 8, 16, 16, 24))).mass[0]!;
    const cnn = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
    const imgs = tf.gather(examples('image_cnn'), [0, 3, 5]);
    const targets = [0, 3, 5].map((i) => reference('image_cnn').targets[i]!);
    const cells: Record<number, [number, number]> = { 0: [0, 0], 1: [0, 3], 2: [3, 0], 3: [3, 3], 4: [1, 1], 5: [1, 2], 6: [2, 1], 7: [2, 2] };
    const b = await new Hsic(cnn).attribute(imgs, { target: targets, designs: 256, gridSize: 4, seed: 1 });
    const relevant = targets.flatMap((t) => regionMask(32, 32, 3, cells[t]![0] * 8, cells[t]![0] * 8 + 8, cells[t]![1] * 8, cells[t]![1] * 8 + 8));
    const shares = Array.from((await groundTruthScores(b.values, relevant)).mass);
    console.log(`HSIC: ${(100 * mass).toFixed(1)}% of the map on the region a black box reads (256 designs, 8×8 grid; region = 6.25%); ONNX CNN class cell ${shares.map((s) => `${(100 * s).toFixed(0)}%`).join(', ')} (256 designs, 4×4 grid)`);
    expect(mass).toBeGreaterThan(0.7); // measured 77% (the other 60 cells share finite-sample noise)
    for (const s of shares) expect(s).toBeGreaterThan(0.25);
    tf.dispose([x, a.values, b.values, imgs]);
    cnn.dispose();
  });

  it('leaks nothing; rejects bad designs and budgets', async () => {
    const model = fromBatchFunction(async ({ data, shape }) => Array.from({ length: shape[0]! }, (_, i) => [data[i * (data.length / shape[0]!)]!]));
    const x = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 1);
    await expectNoLeak(async () => (await new Hsic(model).attribute(x, { target: 0, designs: 16, gridSize: 2, batchSize: 5, perturbation: 'blur', blurSize: 3 })).dispose());
    await expect(new Hsic(model).attribute(x, { target: 0, designs: 1.5 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'designs' } });
    await expect(new Hsic(model).attribute(x, { target: 0, designs: 64, maxEvaluations: 100 })).rejects.toMatchObject({ code: 'budget_exceeded' });
    x.dispose();
  });
});
