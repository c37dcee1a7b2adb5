// Issue 16's MAGIC acceptance: an MLP trained by attrib's full-batch trainer on the wine training set;
// LDS of MAGIC, exact influence (damped), TRAK and grad-dot against retraining by the same trainer
// on random α-subsets. Run: nice -n 10 npx tsx scripts/magic-acceptance.ts [JSON overriding the setup]
import '@tensorflow/tfjs-backend-cpu';
import { magicLds, type MagicSetup } from '../test/magic-setup.js';

const setup: MagicSetup = {
  hidden: 32,
  steps: 20,
  learningRate: 0.2,
  l2: 0.001,
  initScale: 1,
  seed: 8,
  testExamples: 50,
  subsets: 50,
  alphas: [0.99, 0.95, 0.9, 0.75, 0.5],
  baselines: { dampings: [0.01, 0.1, 0.3, 1, 3] },
  ...(process.argv[2] ? (JSON.parse(process.argv[2]) as Partial<MagicSetup>) : {}),
};
const t0 = performance.now();
const r = await magicLds(setup);
console.log(JSON.stringify({ setup, ...r, seconds: Math.round((performance.now() - t0) / 100) / 10 }));
