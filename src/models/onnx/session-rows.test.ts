import { describe, expect, it } from 'vitest';
import { referencePath } from '../../../test/reference.js';
import { fromOnnx } from './node.js';

describe('ONNX session run size', () => {
  it('tunes the rows per run on the first large batch (opt-in) and splits batches without changing results', async () => {
    const auto = await fromOnnx(referencePath('image_cnn', 'model.onnx'), { sessionRows: 'auto' });
    const whole = await fromOnnx(referencePath('image_cnn', 'model.onnx'), { sessionRows: 1000 });
    const rows = 200;
    const data = Float32Array.from({ length: rows * 32 * 32 * 3 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const a = await auto.forwardHost!(data, [rows, 32, 32, 3]);
    const b = await whole.forwardHost!(data, [rows, 32, 32, 3]);
    const chosen = (auto as unknown as { sessionRows?: number }).sessionRows;
    console.log(`image_cnn.onnx: the tuner chose ${chosen} rows per session run`);
    expect([8, 16, 32, 64, 128]).toContain(chosen);
    expect(a.shape).toEqual([rows, 10]);
    let err = 0;
    for (let i = 0; i < a.data.length; i++) err = Math.max(err, Math.abs(a.data[i]! - b.data[i]!));
    expect(err).toBeLessThan(1e-4);
    await expect(fromOnnx(referencePath('image_cnn', 'model.onnx'), { sessionRows: 0 })).rejects.toMatchObject({ code: 'invalid_model' });
    auto.dispose();
    whole.dispose();
  });
});
