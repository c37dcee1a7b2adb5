// The README's library example runs as written (examples/quickstart.ts).
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { quickstart } from '../examples/quickstart.js';
import { loadModel } from '../src/io/load-model.js';
import path from 'node:path';
import { ROOT } from './reference.js';

it('the quickstart example runs and its KernelSHAP values are efficient (Σφ = F(x) − F(0))', async () => {
  const file = path.join(ROOT, 'models', 'demo-image', 'model.json');
  const sums = await quickstart(file);
  const model = await loadModel(file);
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 42);
  const zeros = tf.zerosLike(x);
  const [yx, y0] = [await model.forward(x), await model.forward(zeros)];
  const fx = yx.arraySync() as number[][];
  const f0 = y0.arraySync() as number[][];
  [0, 3].forEach((t, i) => expect(sums[i]).toBeCloseTo(fx[i]![t]! - f0[i]![t]!, 3));
  tf.dispose([x, zeros, yx, y0]);
  model.dispose();
});

it("the README shows examples/quickstart.ts as it is (with the package's import paths)", () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const shown = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  const source = readFileSync(path.join(ROOT, 'examples', 'quickstart.ts'), 'utf8')
    .replace(/'\.\.\/src\/index\.js'; \/\/ 'attrib'/, "'attrib';")
    .replace(/'\.\.\/src\/node\.js'; \/\/ 'attrib\/node'/, "'attrib/node';");
  expect(shown).toBe(source);
});
