// Graph surgery: Integrated Gradients in embedding space on the ONNX text model, against Captum's
// LayerIntegratedGradients on the embedding layer (per dimension and summed).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { examples, reference, referencePath, relError } from '../../../../test/reference.js';
import { fromOnnx } from '../node.js';
import { IntegratedGradients } from '../../../attr/gradient/integrated-gradients.js';
import type { DifferentiableModel } from '../../model.js';

beforeAll(() => useBackend('wasm'));

const EMBEDDING = '/embedding/Gather_output_0';

describe('cutting an ONNX graph at an intermediate tensor', () => {
  it('reads the embedding output, then attributes the rest of the graph to it (Captum LayerIntegratedGradients)', async () => {
    const file = referencePath('text_cnn', 'model.onnx');
    const embedder = await fromOnnx(file, { outputName: EMBEDDING });
    const head = (await fromOnnx(file, { inputName: EMBEDDING })) as DifferentiableModel;
    expect(head.capabilities.gradients).toBe(true);
    const ids = examples('text_cnn');
    const e = await embedder.forward(ids); // [8, 12, 16]
    expect(e.shape).toEqual([8, 12, 16]);
    const ref = reference('text_cnn');
    const logits = await head.forward(e);
    expect(await relError(logits, ref.logits)).toBeLessThan(1e-5);
    logits.dispose();
    for (const [key, rule] of [
      ['layer_integrated_gradients_gausslegendre', 'gauss-legendre'],
      ['layer_integrated_gradients_riemann_middle', 'riemann-middle'],
      ['layer_integrated_gradients_riemann_trapezoid', 'trapezoid-captum'],
    ] as const) {
      // baseline: all-PAD, whose embedding is the zero vector
      const attr = await new IntegratedGradients(head).attribute(e, { target: ref.targets, steps: 50, rule });
      const m = ref.methods[key] as unknown as { attributions: { data: number[] }; attributions_per_dim: { data: number[]; shape: number[] } };
      expect(await relError(attr.values, m.attributions_per_dim), key).toBeLessThan(1e-4);
      const summed = tf.sum(attr.values, 2);
      expect(await relError(summed, m.attributions.data, [8, 12]), key).toBeLessThan(1e-4);
      tf.dispose([summed]);
      attr.dispose();
    }
    tf.dispose([ids, e]);
    embedder.dispose();
    head.dispose();
    await expect(fromOnnx(file, { inputName: 'no-such-tensor' })).rejects.toMatchObject({ code: 'invalid_model' });
  });
});
