import { writeFileSync, readFileSync, copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from './npy.js';
import { parseTensorJson, shortestFloat32, tensorToJsonValue } from './tensor-json.js';
import { loadModel } from './load-model.js';
import jpeg from 'jpeg-js';
import { decodeImage, encodePng } from './image.js';
import { referencePath, removeTempDirs, tempDir } from '../../test/reference.js';

afterAll(removeTempDirs);
import '../../test/backend.js';

describe('tensor JSON', () => {
  it('reads {shape, data} and nested arrays; writes the shortest float32 form', () => {
    expect(parseTensorJson('{"shape":[2,2],"data":[1,2,3,4]}').shape).toEqual([2, 2]);
    expect(parseTensorJson('[[1,2,3],[4,5,6]]').shape).toEqual([2, 3]);
    expect(shortestFloat32(0.1)).toBe(0.1);
    expect(tensorToJsonValue({ shape: [1], dtype: 'float32', data: Float32Array.of(1 / 3) }).data[0]).toBe(0.33333334);
  });
  it.each([
    ['{"shape":[2,2],"data":[1,2,3]}', /needs 4 values/],
    ['[[1,2],[3]]', /ragged|needs/],
    ['{"shape":[1],"data":["a"]}', /not a finite number/],
    ['{"shape":[1],', /not valid JSON/],
    ['{"shape":[100000,100000],"data":[]}', /exceed the limit/],
  ])('rejects %s', (text, msg) => {
    expect(() => parseTensorJson(text)).toThrowError(msg);
    expect(() => parseTensorJson(text)).toThrowError(expect.objectContaining({ code: 'invalid_file' }));
  });
});

describe('.npy', () => {
  it('round-trips float32 and int32', () => {
    const t = { shape: [2, 3], dtype: 'float32' as const, data: Float32Array.of(1, -2.5, 3, 4, 5, 6) };
    expect(parseNpy(encodeNpy(t))).toEqual(t);
    const i = { shape: [4], dtype: 'int32' as const, data: Int32Array.of(1, 2, 3, -4) };
    expect(parseNpy(encodeNpy(i))).toEqual(i);
  });
  it('reads float64 and int64 headers written by NumPy', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    const pad = ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const h = header + pad;
    const bytes = new Uint8Array(10 + h.length + 16);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, h.length, true);
    for (let k = 0; k < h.length; k++) bytes[10 + k] = h.charCodeAt(k);
    new DataView(bytes.buffer).setFloat64(10 + h.length, 0.5, true);
    new DataView(bytes.buffer).setFloat64(18 + h.length, -2, true);
    expect(Array.from(parseNpy(bytes).data)).toEqual([0.5, -2]);
  });
  it('rejects truncated data, bad magic, Fortran order, unknown dtypes', () => {
    const good = encodeNpy({ shape: [4], dtype: 'float32', data: new Float32Array(4) });
    expect(() => parseNpy(good.subarray(0, good.length - 3))).toThrowError(/truncated/);
    expect(() => parseNpy(new Uint8Array(20))).toThrowError(/magic/);
    const text = new TextDecoder('latin1').decode(good);
    const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
    expect(() => parseNpy(enc(text.replace("'fortran_order': False", "'fortran_order': True ")))).toThrowError(/Fortran/);
    expect(() => parseNpy(enc(text.replace('<f4', '<c8')))).toThrowError(/not supported/);
  });
});

describe('model files', () => {
  const dir = () => {
    const d = tempDir('attrib-model-');
    copyFileSync(referencePath('tabular_mlp', 'model.json'), path.join(d, 'model.json'));
    copyFileSync(referencePath('tabular_mlp', 'weights.bin'), path.join(d, 'weights.bin'));
    return d;
  };
  it('loads a layers model.json, a directory, and an .onnx file', async () => {
    const d = dir();
    const m = await loadModel(path.join(d, 'model.json'));
    expect(m.capabilities.gradients).toBe(true);
    expect(m.inputShape).toEqual([null, 12]);
    m.dispose();
    (await loadModel(d)).dispose();
    const o = await loadModel(referencePath('tabular_mlp', 'model.onnx'));
    expect(o.capabilities.gradients).toBe(true); // backward graph compiled on demand
    o.dispose();
  });
  it('rejects missing, truncated and oversized weights, corrupt JSON, paths outside the directory', async () => {
    await expect(loadModel('/nonexistent/model.json')).rejects.toMatchObject({ code: 'invalid_model' });
    const d1 = dir();
    const w = readFileSync(path.join(d1, 'weights.bin'));
    writeFileSync(path.join(d1, 'weights.bin'), w.subarray(0, w.length - 8));
    await expect(loadModel(path.join(d1, 'model.json'))).rejects.toThrowError(/truncated/);
    writeFileSync(path.join(d1, 'weights.bin'), Buffer.concat([w, Buffer.alloc(4)]));
    await expect(loadModel(path.join(d1, 'model.json'))).rejects.toThrowError(/oversized/);
    const d2 = dir();
    writeFileSync(path.join(d2, 'model.json'), '{"modelTopology": ');
    await expect(loadModel(path.join(d2, 'model.json'))).rejects.toThrowError(/not valid JSON/);
    const d3 = dir();
    const mj = JSON.parse(readFileSync(path.join(d3, 'model.json'), 'utf8'));
    mj.weightsManifest[0].paths = ['../../etc/passwd'];
    writeFileSync(path.join(d3, 'model.json'), JSON.stringify(mj));
    await expect(loadModel(path.join(d3, 'model.json'))).rejects.toThrowError(/outside the model's directory/);
    const d4 = dir();
    const rm = JSON.parse(readFileSync(path.join(d4, 'model.json'), 'utf8'));
    rm.weightsManifest[0].paths = ['missing.bin'];
    writeFileSync(path.join(d4, 'model.json'), JSON.stringify(rm));
    await expect(loadModel(path.join(d4, 'model.json'))).rejects.toThrowError(/missing/);
    const d5 = tempDir('attrib-empty-');
    mkdirSync(path.join(d5, 'sub'));
    await expect(loadModel(d5)).rejects.toThrowError(/neither model.json nor model.onnx/);
  });
});

describe('images', () => {
  it('decodes PNG to [0,1] RGB and rejects other bytes', () => {
    const rgba = new Uint8Array(2 * 1 * 4);
    rgba.set([255, 0, 0, 255, 0, 128, 255, 255]);
    const img = decodeImage(encodePng(rgba, 2, 1));
    expect([img.width, img.height, img.channels]).toEqual([2, 1, 3]);
    expect(Array.from(img.data).map((v) => Math.round(v * 255))).toEqual([255, 0, 0, 0, 128, 255]);
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]))).toThrowError(expect.objectContaining({ code: 'invalid_file' }));
    // JPEG: a flat mid-grey 8×8 image decodes to ≈ 0.5 everywhere
    const grey = new Uint8Array(8 * 8 * 4).fill(128);
    const jpg = jpeg.encode({ data: grey, width: 8, height: 8 }, 95).data;
    const j = decodeImage(new Uint8Array(jpg));
    expect([j.width, j.height]).toEqual([8, 8]);
    for (const v of j.data) expect(Math.abs(v - 128 / 255)).toBeLessThan(0.02);
    expect(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0, 1, 2))).toThrowError(expect.objectContaining({ code: 'invalid_file' }));
    expect(() => decodeImage(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0, 0, 0))).toThrowError(expect.objectContaining({ code: 'invalid_file' }));
  });
});
