import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { regionBlackBox, regionMask } from '../../../test/reference-models.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, reference, referencePath } from '../../../test/reference.js';
import { fromBatchFunction } from '../../models/batch-function.js';
import { fromOnnx } from '../../models/onnx/node.js';
import { groundTruthScores } from '../../metrics/ground-truth.js';
import { insertionCurve } from '../../metrics/deletion.js';
import { gridMask } from '../masks.js';
import { Lima, rank } from './lima.js';

beforeAll(() => useBackend('wasm'));


describe('LiMA', () => {
  it('greedy and bidirectional searches order a modular function exactly; bidirectional scores fewer candidates', async () => {
    const value = [5, 1, 8, 3, 7, 2, 6, 4];
    const f = async (chosen: readonly number[], candidates: readonly number[]) => candidates.map((r) => [...chosen, r].reduce((s, k) => s + value[k]!, 0));
    const greedy = await rank(8, 'greedy', f);
    const bi = await rank(8, 'bidirectional', f);
    expect(Array.from(greedy.order)).toEqual([2, 4, 6, 0, 7, 3, 5, 1]);
    expect(Array.from(bi.order)).toEqual([2, 4, 6, 0, 7, 3, 5, 1]);
    expect([greedy.evaluations, bi.evaluations]).toEqual([36, 20]);
  });

  it('ranks first the region a black box reads, with either search; the map decreases with rank', async () => {
    const model = regionBlackBox((s) => [s / 16 - 1, 1 - s / 16]);
    const x = tf.randomUniform([1, 32, 32, 3], 0.3, 1, 'float32', 3);
    const relevant = regionMask(32, 32, 3, 8, 16, 16, 24);
    const out: string[] = [];
    for (const search of ['greedy', 'bidirectional'] as const) {
      using attr = await new Lima(model).attribute(x, { target: 0, gridSize: 4, search });
      const v = await attr.values.data();
      const s = await groundTruthScores(attr.values, relevant);
      out.push(`${search}: ${attr.diagnostics.evaluations} evaluations, AUROC ${s.auroc[0]!.toFixed(3)}, mass ${(100 * s.mass[0]!).toFixed(0)}%`);
      expect(s.auroc[0]!).toBeGreaterThan(0.99);
      expect(s.mass[0]!).toBeGreaterThan(0.8); // measured 90% with either search
      expect(v[(8 * 32 + 16) * 3]).toBe(Math.max(...v)); // the region's cell scores highest
    }
    console.log(`LiMA on a region-only black box (4×4 grid): ${out.join('; ')}`);
    x.dispose();
  });

  it('on the ONNX CNN: same first region and insertion AUC with about half the forward passes', async () => {
    const cnn = await fromOnnx(referencePath('image_cnn', 'model.onnx'));
    const x = tf.gather(examples('image_cnn'), [0, 3]);
    const target = [0, 3].map((i) => reference('image_cnn').targets[i]!);
    const res: Record<string, { evals: number; auc: number; ms: number }> = {};
    for (const search of ['greedy', 'bidirectional'] as const) {
      const t0 = performance.now();
      const attr = await new Lima(cnn).attribute(x, { target, gridSize: 4, search });
      const ms = performance.now() - t0;
      const curve = await insertionCurve(cnn, x, attr.values, { target, steps: 16, featureMask: gridMask([32, 32, 3], 8) });
      res[search] = { evals: attr.diagnostics.evaluations, auc: curve.auc.reduce((a, b) => a + b, 0) / 2, ms };
      attr.dispose();
    }
    console.log(
      `LiMA on image_cnn.onnx (16 regions, 2 images): greedy ${res['greedy']!.evals} evaluations, insertion AUC ${res['greedy']!.auc.toFixed(2)}, ${res['greedy']!.ms.toFixed(0)} ms; bidirectional ${res['bidirectional']!.evals}, ${res['bidirectional']!.auc.toFixed(2)}, ${res['bidirectional']!.ms.toFixed(0)} ms`,
    );
    expect(res['bidirectional']!.evals / res['greedy']!.evals).toBeLessThan(0.6);
    expect(res['bidirectional']!.auc).toBeGreaterThan(0.9 * res['greedy']!.auc);
    x.dispose();
    cnn.dispose();
  });

  it('leaks nothing; rejects function targets and bad weights', async () => {
    const model = fromBatchFunction(async ({ data, shape }) => Array.from({ length: shape[0]! }, (_, i) => [data[i * (data.length / shape[0]!)]!, 0]));
    const x = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 1);
    await expectNoLeak(async () => (await new Lima(model).attribute(x, { target: 0, gridSize: 2, batchSize: 3 })).dispose());
    await expect(new Lima(model).attribute(x, { target: (y) => tf.sum(y, 1), gridSize: 2 })).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'target' } });
    await expect(new Lima(model).attribute(x, { target: 0, weights: [1, 1, 1] as never })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(new Lima(model).attribute(x, { target: 0, gridSize: 4, maxEvaluations: 50 })).rejects.toMatchObject({ code: 'budget_exceeded' });
    x.dispose();
  });
});
