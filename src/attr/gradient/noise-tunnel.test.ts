import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { linear } from '../../../test/reference-models.js';
import { NoiseTunnel } from './noise-tunnel.js';
import { GradientShap } from './gradient-shap.js';
import { Saliency } from './saliency.js';

beforeAll(() => useBackend('cpu'));

it("keeps NoiseTunnel's samples/stdevs away from the wrapped method", async () => {
  const model = linear([1, 2, 3]);
  const nt = new NoiseTunnel(new GradientShap(model), model);
  const x = tf.tensor2d([
    [1, 2, 3],
    [0, -1, 1],
  ]);
  // 3 noisy copies of 2 rows in one inner call of 6 rows: GradientSHAP's own 5 samples each,
  // plus 6 forward rows and 1 baseline row for its completeness gap = 6·5 + 6 + 1
  const attr = await nt.attribute(x, { target: 0, samples: 3, stdevs: 0.1, seed: 1 });
  expect(attr.diagnostics.evaluations).toBe(37);
  expect(nt.cost(x.shape, { target: 0, samples: 3 })).toBeGreaterThanOrEqual(37);
  attr.dispose();
  x.dispose();
});

it('smoothgrad of a linear model is its weights; vargrad is zero', async () => {
  const model = linear([1, -2, 0.5]);
  const x = tf.tensor2d([[0.3, 0.2, -1]]);
  for (const [type, want] of [['smoothgrad', [1, -2, 0.5]], ['vargrad', [0, 0, 0]], ['smoothgrad-sq', [1, 4, 0.25]]] as const) {
    const a = await new NoiseTunnel(new Saliency(model), model).attribute(x, { target: 0, type, samples: 8, stdevs: 0.5, abs: false });
    Array.from(await a.values.data()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    expect(a.diagnostics.stderr?.shape).toEqual([1, 3]);
    a.dispose();
  }
  x.dispose();
});
