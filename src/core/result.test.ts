import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { expectNoLeak } from '../../test/leak-check.js';
import {
  ATTRIBUTION_KINDS,
  ComponentAttribution,
  ContextAttribution,
  DataAttribution,
  FeatureAttribution,
  isComponentAttribution,
  isContextAttribution,
  isDataAttribution,
  isFeatureAttribution,
  isLayerAttribution,
  LayerAttribution,
  type AttributionResult,
} from './result.js';

beforeAll(() => useBackend('cpu'));
const diag = { evaluations: 3, elapsedMs: 1.5, truncated: false };

describe('result kinds', () => {
  it('each kind owns its tensors, and the guards tell them apart', async () => {
    await expectNoLeak(async () => {
      const results: AttributionResult[] = [
        new FeatureAttribution('saliency', tf.zeros([2, 3]), diag),
        new LayerAttribution('layer-activation', 'conv', tf.zeros([2, 4, 4, 1]), diag),
        new ComponentAttribution('activation-patching', ['blocks.0.attn.hook_z', 'blocks.1.attn.hook_z'], ['component', 'head'], tf.zeros([1, 2, 4]), diag),
        new DataAttribution('trak', tf.zeros([2, 5]), diag, ['a', 'b', 'c', 'd', 'e'], [0, 1]),
        new ContextAttribution('context-ablation', [{ source: 'doc1', start: 0, end: 12 }, { source: 'doc2', start: 4, end: 9, text: 'hello' }], tf.zeros([1, 2]), diag),
      ];
      expect(results.map((r) => r.kind)).toEqual([...ATTRIBUTION_KINDS]);
      const guards = [isFeatureAttribution, isLayerAttribution, isComponentAttribution, isDataAttribution, isContextAttribution];
      // guard i accepts result i only
      expect(guards.map((g) => results.map((r) => g(r)))).toEqual(guards.map((_, i) => results.map((_, j) => i === j)));
      for (const r of results) r.dispose();
      expect(results.every((r) => r.values.isDisposed)).toBe(true);
    });
  });

  it('checks the values against what each kind names, with shape_mismatch and details', async () => {
    await expectNoLeak(async () => {
      const cases: [() => unknown, Record<string, unknown>][] = [
        [() => new ComponentAttribution('m', ['a', 'b', 'c'], ['component'], tf.zeros([1, 2]), diag), { arg: 'components', expected: 2, actual: 3 }],
        [() => new ComponentAttribution('m', ['a'], ['component', 'head'], tf.zeros([1, 1]), diag), { arg: 'axes', expected: 3 }],
        [() => new DataAttribution('m', tf.zeros([2, 5, 1]), diag), { arg: 'values', expected: 2 }],
        [() => new DataAttribution('m', tf.zeros([2, 5]), diag, ['x']), { arg: 'trainIds', expected: 5, actual: 1 }],
        [() => new DataAttribution('m', tf.zeros([2, 5]), diag, undefined, [1, 2, 3]), { arg: 'testIds', expected: 2, actual: 3 }],
        [() => new ContextAttribution('m', [{ source: 'd', start: 0, end: 1 }], tf.zeros([1, 2]), diag), { arg: 'sources', expected: 2, actual: 1 }],
        [() => new ContextAttribution('m', [{ source: 'd', start: 5, end: 1 }], tf.zeros([1, 1]), diag), { arg: 'sources', index: 0 }],
      ];
      for (const [make, details] of cases) {
        expect(() => tf.tidy(() => void make())).toThrowError(expect.objectContaining({ code: 'shape_mismatch', details: expect.objectContaining(details) }));
      }
    });
  });
});
