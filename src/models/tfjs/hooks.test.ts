import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../../../test/backend.js';
import { expectNoLeak } from '../../../test/leak-check.js';
import { examples, loadReferenceModel } from '../../../test/reference.js';
import { residualNet } from '../../../test/reference-models.js';
import { isHooked } from '../model.js';
import type { LayersModelAdapter } from './layers-model.js';

const sameBits = async (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
};

describe.each(BACKENDS)('hookable execution on %s', (backend) => {
  let cnn: LayersModelAdapter;
  let res: LayersModelAdapter;
  let images: tf.Tensor;
  let small: tf.Tensor;
  beforeAll(async () => {
    await useBackend(backend);
    cnn = (await loadReferenceModel('image_cnn')) as unknown as LayersModelAdapter;
    res = residualNet();
    images = examples('image_cnn');
    small = tf.tidy(() => tf.randomUniform([4, 8, 8, 2], -1, 1, 'float32', 3));
  });
  afterAll(() => {
    cnn.dispose();
    res.dispose();
    tf.dispose([images, small]);
  });

  it('names every layer call as a hook point, with its shape', () => {
    expect(isHooked(cnn)).toBe(true);
    expect(cnn.hookNames).toEqual(['conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'fc1', 'fc2']);
    expect(cnn.hookShape('conv2')).toEqual([null, 16, 16, 16]);
    expect(res.hookNames).toContain('add');
    expect(res.hookShape('relu_b')).toEqual([null, 8, 8, 4]);
  });

  it('an identity hook on every layer leaves the outputs bit-identical', async () => {
    for (const [model, x] of [
      [cnn, images],
      [res, small],
    ] as const) {
      const plain = await model.forward(x);
      const hooks = Object.fromEntries(model.hookNames.map((n) => [n, (a: tf.Tensor) => tf.clone(a)]));
      const hooked = await model.run(x, { hooks });
      await sameBits(hooked, plain);
      tf.dispose([plain, hooked]);
    }
  });

  it('patching a layer with another input’s activation reproduces that input’s output downstream', async () => {
    for (const [model, x, layers] of [
      [cnn, images, ['conv1', 'pool2', 'fc1']],
      [res, small, ['relu_a', 'add', 'gap']],
    ] as const) {
      const other = tf.reverse(x, 0); // row i takes row n−1−i's activation
      const want = await model.forward(other);
      for (const layer of layers) {
        const act = await model.activation(other, layer);
        const got = await model.run(x, { patches: { [layer]: act } });
        if (layer === 'relu_a') {
          // residual branch: the skip path still reads x, so only a full cut reproduces `other`
          expect(await got.data()).not.toEqual(await want.data());
        } else {
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!);
          expect(diff, `${model.name} ${layer}`).toBeLessThan(1e-5);
        }
        tf.dispose([act, got]);
      }
      tf.dispose([other, want]);
    }
  });

  it('a hook that returns a tensor replaces the activation (zeroing relu_b gives the head bias)', async () => {
    const y = await res.run(small, { hooks: { relu_b: (a) => tf.zerosLike(a) } });
    const bias = await (res.model.getLayer('head').getWeights()[1] as tf.Tensor).data();
    const got = await y.data();
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) expect(got[i * 3 + j]).toBeCloseTo(bias[j]!, 6);
    y.dispose();
  });

  it('caches activations that match the forward pass, and releases 1,000 of them on dispose', async () => {
    await expectNoLeak(async () => {
      const { output, cache } = await cnn.runWithCache(images);
      expect(cache.names).toEqual(cnn.hookNames);
      const logits = await cnn.forward(images);
      await sameBits(output, logits);
      await sameBits(cache.get('fc2'), logits);
      expect(cache.get('conv2').shape).toEqual([8, 16, 16, 16]);
      tf.dispose([output, logits]);
      cache.dispose();
      const caches = [];
      for (let i = 0; i < 125; i++) caches.push(await res.runWithCache(small, res.hookNames.slice(0, 8))); // 125 × 8 layers
      expect(caches.reduce((s, c) => s + c.cache.names.length, 0)).toBe(1000);
      for (const c of caches) {
        c.output.dispose();
        c.cache.dispose();
      }
    });
  });

  it('differentiates against a layer: the head gradient of gap is the head kernel column', async () => {
    const view = res.atLayer('gap');
    const acts = await res.activation(small, 'gap');
    const g = await view.gradients(acts, (y) => tf.sum(tf.mul(y, tf.tensor1d([0, 1, 0])), 1), { rows: [0, 1, 2, 3], inputs: { image: small } });
    const kernel = await (res.model.getLayer('head').getWeights()[0] as tf.Tensor).array() as number[][];
    const got = (await g.array()) as number[][];
    for (const row of got) row.forEach((v, c) => expect(v).toBeCloseTo(kernel[c]![1]!, 6));
    tf.dispose([acts, g]);
  });

  it('a layer view reads the original input for branches that bypass the layer', async () => {
    const view = res.atLayer('conv_b');
    const acts = await res.activation(small, 'conv_b');
    const y = await view.forward(acts, { rows: [0, 1, 2, 3], inputs: { image: small } });
    const want = await res.forward(small);
    await sameBits(y, want);
    await expect(view.forward(acts)).rejects.toMatchObject({ code: 'capability_missing' });
    tf.dispose([acts, y, want]);
  });

  it('names the valid layers when a hook name is unknown', async () => {
    expect(() => cnn.atLayer('conv9')).toThrow(/names no layer of model .*'conv9'.*conv1, pool1, conv2/);
    await expect(cnn.run(images, { hooks: { nope: () => undefined } })).rejects.toMatchObject({ code: 'unknown_hook' });
    const bad = tf.zeros([2, 16, 16, 16]);
    await expect(cnn.run(images, { patches: { conv2: bad } })).rejects.toMatchObject({ code: 'shape_mismatch' });
    bad.dispose();
  });
});
