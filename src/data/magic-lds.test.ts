// Issue 16's MAGIC acceptance, CI-sized: an MLP (13 → 32 tanh → 3, seeded θ_0 ~ N(0, 1)) trained on
// the wine training set by attrib's trainer (20 full-batch steps, η = 0.2, λ = 0.001), LDS ground truth
// retrained by the same trainer on random subsets keeping 90 % of the examples; and a gentler run at
// half subsets. The full runs (50 test examples, 50 subsets per fraction) are scripts/magic-acceptance.ts.
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { magicLds } from '../../test/magic-setup.js';

describe('MAGIC on the issue’s setup: an MLP trained by attrib’s full-batch trainer', () => {
  it('LDS ≥ 0.9 against retraining by the same trainer, where TRAK and (damped) influence stay far below', async () => {
    const { lds } = await magicLds({ hidden: 32, steps: 20, learningRate: 0.2, l2: 0.001, initScale: 1, seed: 8, testExamples: 12, subsets: 20, alphas: [0.9], baselines: { dampings: [1] } });
    console.log(`LDS, 12 test examples, 20 subsets keeping 90 %: ${Object.entries(lds).map(([k, v]) => `${k} ${v[0]!.toFixed(3)}`).join(', ')}`);
    expect(lds['magic']![0]!).toBeGreaterThanOrEqual(0.9);
    expect(lds['influence δ=1']![0]!).toBeLessThan(lds['magic']![0]! - 0.15);
    expect(lds['trak']![0]!).toBeLessThan(0.5);
  });

  it('at dattri’s α = 0.5 on a gentler run (θ_0 ~ N(0, 0.4²), T = 10): MAGIC LDS ≥ 0.9, influence and TRAK below', async () => {
    const { lds } = await magicLds({ hidden: 32, steps: 10, learningRate: 0.2, l2: 0.001, initScale: 0.4, seed: 8, testExamples: 12, subsets: 20, alphas: [0.5], baselines: { dampings: [1] } });
    console.log(`LDS, 12 test examples, 20 half subsets: ${Object.entries(lds).map(([k, v]) => `${k} ${v[0]!.toFixed(3)}`).join(', ')}`);
    expect(lds['magic']![0]!).toBeGreaterThanOrEqual(0.9);
    expect(lds['influence δ=1']![0]!).toBeLessThan(lds['magic']![0]! - 0.1);
    expect(lds['trak']![0]!).toBeLessThan(0.5);
  });
});
