import { describe, expect, it } from 'vitest';
import { isAttributionError } from '../core/errors.js';
import { checkLabels, isSparseLabels, parseFeatureNames, parseLabels } from './labels.js';

const errorOf = (f: () => unknown): { code: string; details: Record<string, unknown> } | undefined => {
  try {
    f();
  } catch (e) {
    if (isAttributionError(e)) return { code: e.code, details: { ...e.details } };
    throw e;
  }
  return undefined;
};

describe('parseLabels', () => {
  it('reads lines, a JSON array, a JSON object and ImageNet-style [wnid, name] pairs', () => {
    expect([...parseLabels('cat\ndog\r\nbird\n\n', 'l')]).toEqual([[0, 'cat'], [1, 'dog'], [2, 'bird']]);
    expect([...parseLabels(' ["cat", "dog"]', 'l')]).toEqual([[0, 'cat'], [1, 'dog']]);
    expect(new Map(parseLabels('{"2": "bird", "0": "cat"}', 'l'))).toEqual(new Map([[0, 'cat'], [2, 'bird']]));
    expect(parseLabels('{"0": ["n01440764", "tench"]}', 'l').get(0)).toBe('tench');
    expect(isSparseLabels(' {"0": "a"}')).toBe(true);
    expect(isSparseLabels('["a"]')).toBe(false);
  });

  it('refuses broken JSON, bad keys, non-string labels, blank lines and empty files with invalid_file', () => {
    for (const text of ['["cat",', '{"one": "cat"}', '{"-1": "cat"}', '[{"a": 1}]', 'cat\n\ndog', '', '[]']) {
      expect(errorOf(() => parseLabels(text, 'l'))?.code, text).toBe('invalid_file');
    }
  });

  it('checks labels against the number of outputs: a list must name each, an object only in range', () => {
    const list = parseLabels('a\nb\nc', 'l');
    expect(errorOf(() => checkLabels(list, 3, false, 'l'))).toBeUndefined();
    expect(errorOf(() => checkLabels(list, 4, false, 'l'))).toEqual({ code: 'invalid_argument', details: { arg: 'labels', expected: 4, actual: 3 } });
    const sparse = parseLabels('{"7": "x"}', 'l');
    expect(errorOf(() => checkLabels(sparse, 10, true, 'l'))).toBeUndefined();
    expect(errorOf(() => checkLabels(sparse, 5, true, 'l'))).toEqual({ code: 'invalid_argument', details: { arg: 'labels', expected: 5, actual: 8 } });
  });
});

describe('parseFeatureNames', () => {
  it('reads lines or a JSON array; refuses objects and blank names', () => {
    expect(parseFeatureNames('age\nincome\n', 'f')).toEqual(['age', 'income']);
    expect(parseFeatureNames('["age", "income", 3]', 'f')).toEqual(['age', 'income', '3']);
    expect(errorOf(() => parseFeatureNames('{"0": "age"}', 'f'))?.code).toBe('invalid_file');
    expect(errorOf(() => parseFeatureNames('age\n\nincome', 'f'))?.code).toBe('invalid_file');
    expect(errorOf(() => parseFeatureNames('  \n', 'f'))?.code).toBe('invalid_file');
  });
});
