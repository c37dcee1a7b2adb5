// Class labels, normalisation and layout from a model's metadata (ONNX metadata_props, TF.js
// userDefinedMetadata), and the CLI taking them where the user gave none.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { modelMetadata } from './model-metadata.js';
import { loadModel } from './load-model.js';
import { onnx } from '../models/onnx/graph/proto.js';
import { referencePath } from '../../test/reference.js';
import { attrib } from '../../test/run-cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const meta = (metadata: Record<string, string>) => modelMetadata({ metadata });

describe('modelMetadata', () => {
  it('reads labels written as JSON arrays, JSON objects, Python dicts, lines or comma lists', () => {
    expect([...meta({ labels: '["cat","dog"]' }).labels!.labels]).toEqual([[0, 'cat'], [1, 'dog']]);
    expect(meta({ id2label: '{"0": "neg", "1": "pos"}' }).labels).toMatchObject({ sparse: true, key: 'id2label' });
    const yolo = meta({ names: "{0: 'person', 1: \"bicycle\", 2: 'car'}" }).labels!;
    expect([...yolo.labels]).toEqual([[0, 'person'], [1, 'bicycle'], [2, 'car']]);
    expect([...meta({ classes: 'a\nb\nc' }).labels!.labels.values()]).toEqual(['a', 'b', 'c']);
    expect([...meta({ class_names: 'x, y' }).labels!.labels.values()]).toEqual(['x', 'y']);
    // the first key that parses wins; a value that does not parse is skipped
    expect(meta({ labels: '[1, {}]', names: '["a"]' }).labels!.key).toBe('names');
  });

  it('reads mean/std per channel, scaling values written for [0, 255] to pixels in [0, 1]', () => {
    expect(meta({ mean: '[0.485, 0.456, 0.406]', std: '0.229,0.224,0.225' }).normalize!.value).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    const scaled = meta({ image_mean: '127.5', image_std: '127.5' }).normalize!;
    expect(scaled.value).toEqual({ mean: [0.5], std: [0.5] });
    expect(scaled.keys).toBe('image_mean, image_std');
    // mismatched lengths, a zero std or text: ignored
    expect(meta({ mean: '[0.5, 0.5]', std: '[0.5]' }).normalize).toBeUndefined();
    expect(meta({ mean: '0.5', std: '0' }).normalize).toBeUndefined();
    expect(meta({ mean: 'ImageNet', std: 'yes' }).normalize).toBeUndefined();
  });

  it('reads the layout, and nothing from a model without metadata', () => {
    expect(meta({ data_format: 'channels_first' }).layout).toEqual({ value: 'nchw', key: 'data_format' });
    expect(meta({ layout: 'NHWC' }).layout!.value).toBe('nhwc');
    expect(meta({ layout: 'hwc' }).layout).toBeUndefined();
    expect(modelMetadata({})).toEqual({});
  });
});

describe('metadata read by loadModel and used by the CLI', () => {
  const labels = ['top-left', 'top-right', 'bottom-left', 'bottom-right', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'];
  const withMetadata = (props: Record<string, string>): string => {
    const m = onnx.ModelProto.decode(readFileSync(referencePath('image_cnn', 'model.onnx')));
    m.metadataProps = Object.entries(props).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attrib-meta-'));
    dirs.push(dir);
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, onnx.ModelProto.encode(m).finish());
    return file;
  };

  it('an ONNX file: metadata_props and the producer are the adapter metadata', async () => {
    const model = await loadModel(withMetadata({ names: JSON.stringify(labels), author: 'attrib tests' }), { cacheDir: false });
    expect(model.metadata).toMatchObject({ names: JSON.stringify(labels), author: 'attrib tests', producer: expect.stringMatching(/pytorch/) });
    expect(modelMetadata(model).labels!.labels.get(1)).toBe('top-right');
    model.dispose();
  });

  it('a TF.js model.json: its userDefinedMetadata, kept when the model moves to ONNX Runtime', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attrib-meta-'));
    dirs.push(dir);
    const json = JSON.parse(readFileSync('models/demo-tabular/model.json', 'utf8')) as Record<string, unknown>;
    json['userDefinedMetadata'] = { labels: ['no', 'yes'], note: { source: 'test' } };
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    writeFileSync(path.join(dir, 'weights.bin'), readFileSync('models/demo-tabular/weights.bin'));
    for (const engine of ['tfjs', 'auto'] as const) {
      const model = await loadModel(path.join(dir, 'model.json'), { engine, cacheDir: false });
      expect(model.metadata).toMatchObject({ labels: '["no","yes"]', note: '{"source":"test"}' });
      expect([...modelMetadata(model).labels!.labels.values()]).toEqual(['no', 'yes']);
      model.dispose();
    }
  });

  it('attrib explain names each target by the metadata labels and says where they came from', async () => {
    const file = withMetadata({ names: JSON.stringify(labels), mean: '0', std: '1' });
    const input = path.join(path.dirname(file), 'x.json');
    writeFileSync(input, JSON.stringify({ shape: [1, 32, 32, 3], dtype: 'float32', data: new Array<number>(32 * 32 * 3).fill(0.5) }));
    const r = await attrib('explain', '--model', file, '--input', input, '--method', 'saliency', '--target', '1');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/from the model's metadata: .*class labels \('names'\)/);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: [1], targetLabels: ['top-right'] });
    // labels that do not fit the outputs are not used
    const wrong = await attrib('explain', '--model', withMetadata({ names: '["a","b"]' }), '--input', input, '--method', 'saliency', '--target', '1');
    expect(wrong.code).toBe(0);
    expect(wrong.stderr).not.toMatch(/class labels/);
  });
});
