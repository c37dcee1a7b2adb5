// Real PyTorch exports (test/fixtures/onnx, see its README): opsets 9 and 11, dynamic and fixed
// batches. Each loads, is differentiable, and its gradients match central finite differences.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { checkVjp } from '../../../test/vjp-check.js';
import { Rng } from '../../core/random.js';
import { decodeModel } from './grad/compile.js';
import { fromOnnx } from './node.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(3);
const randn = (n: number) => Array.from({ length: n }, () => rng.normal());
const fixture = (name: string) => new URL(`../../../test/fixtures/onnx/${name}`, import.meta.url).pathname;

describe('real PyTorch exports', () => {
  it.each([
    ['mobile_opset11.onnx', [2, 3, 16, 16], [2, 5]],
    ['attention_opset11.onnx', [2, 5, 8], [2, 3]],
    ['unet_fixed1_opset9.onnx', [2, 1, 8, 8], [2, 2]],
    ['unet_opset10.onnx', [2, 1, 8, 8], [2, 2]],
  ])('%s: gradients of 2 rows against finite differences', async (name, inShape, outShape) => {
    const model = await fromOnnx(fixture(name), { cacheDir: false });
    expect(model.capabilities.gradients, model.gradientsUnavailable).toBe(true);
    expect(model.inputShape[0]).toBeNull();
    model.dispose();
    await checkVjp(randn, decodeModel(new Uint8Array(readFileSync(fixture(name)))), inShape, outShape, { tol: 5e-3 });
  });

  it('lstm_fixed1_opset11.onnx: LSTM and GRU unrolled, state inputs on axis 1, batch fixed at 1: gradients of 2 rows', async () => {
    const file = fixture('lstm_fixed1_opset11.onnx');
    const load = { inputBatchAxes: { h0: 1, c0: 1 }, cacheDir: false } as const;
    const model = await fromOnnx(file, load);
    expect(model.capabilities.gradients, model.gradientsUnavailable).toBe(true);
    model.dispose();
    const inputs = { h0: tf.tensor(randn(10), [2, 1, 5]), c0: tf.tensor(randn(10), [2, 1, 5]) };
    await checkVjp(randn, decodeModel(new Uint8Array(readFileSync(file))), [2, 4, 3], [2, 2], { inputs, load });
    tf.dispose([inputs.h0, inputs.c0]);
  });
});
