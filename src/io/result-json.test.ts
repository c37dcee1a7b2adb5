import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { ComponentAttribution, ContextAttribution, DataAttribution, FeatureAttribution, LayerAttribution, type AttributionResult } from '../core/result.js';
import { ATTRIBUTION_JSON_SCHEMA, attributionJson } from './result-json.js';

beforeAll(() => useBackend('cpu'));

type Schema = Readonly<Record<string, unknown>>;

/** Errors of `v` against the JSON Schema keywords the schema uses (type, const, enum, required, properties, items, oneOf, anyOf, minimum, minLength). */
function validate(v: unknown, s: Schema, at = '$'): string[] {
  const errs: string[] = [];
  const typeOk = (t: string) =>
    t === 'null' ? v === null : t === 'array' ? Array.isArray(v) : t === 'integer' ? Number.isInteger(v) : t === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === t;
  if (s['type'] !== undefined && !([] as string[]).concat(s['type'] as string).some(typeOk)) errs.push(`${at}: type ${String(s['type'])}`);
  if ('const' in s && v !== s['const']) errs.push(`${at}: const`);
  if (s['enum'] && !(s['enum'] as unknown[]).includes(v)) errs.push(`${at}: enum`);
  if (typeof s['minimum'] === 'number' && typeof v === 'number' && v < s['minimum']) errs.push(`${at}: minimum`);
  if (typeof s['minLength'] === 'number' && typeof v === 'string' && v.length < s['minLength']) errs.push(`${at}: minLength`);
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const r of (s['required'] as string[] | undefined) ?? []) if (!(r in o)) errs.push(`${at}.${r}: required`);
    for (const [k, sub] of Object.entries((s['properties'] as Record<string, Schema> | undefined) ?? {})) if (k in o) errs.push(...validate(o[k], sub, `${at}.${k}`));
  }
  if (Array.isArray(v) && s['items']) v.forEach((x, i) => errs.push(...validate(x, s['items'] as Schema, `${at}[${i}]`)));
  if (s['oneOf'] && (s['oneOf'] as Schema[]).filter((b) => validate(v, b, at).length === 0).length !== 1) errs.push(`${at}: oneOf`);
  if (s['anyOf'] && !(s['anyOf'] as Schema[]).some((b) => validate(v, b, at).length === 0)) errs.push(`${at}: anyOf`);
  return errs;
}

const diag = { evaluations: 4, elapsedMs: 2.25, truncated: true, convergenceDelta: new Float32Array([0.5]), targets: [1] };

describe('one JSON form and one schema for every kind', () => {
  it('each kind serialises with its own fields and validates against the schema', async () => {
    const results: AttributionResult[] = [
      new FeatureAttribution('saliency', tf.tensor2d([[0.1, 0.2]]), diag),
      new LayerAttribution('layer-activation', 'conv', tf.tensor2d([[3]]), diag),
      new ComponentAttribution('activation-patching', ['blocks.0.attn.hook_z', 'blocks.1.attn.hook_z'], ['component'], tf.tensor2d([[0.25, -1]]), diag),
      new DataAttribution('trak', tf.tensor2d([[1, 2, 3]]), diag, ['a', 'b', 'c']),
      new ContextAttribution('context-ablation', [{ source: 'doc', start: 0, end: 3, text: 'abc' }], tf.tensor2d([[0.75]]), diag),
    ];
    const json = await Promise.all(results.map(attributionJson));
    for (const r of results) r.dispose();
    for (const j of json) expect(validate(JSON.parse(JSON.stringify(j)), ATTRIBUTION_JSON_SCHEMA)).toEqual([]);
    expect(json[0]).toEqual({ kind: 'feature', method: 'saliency', shape: [1, 2], data: [0.1, 0.2], diagnostics: { evaluations: 4, elapsedMs: 2.25, truncated: true, convergenceDelta: [0.5] }, target: [1] });
    expect(json[1]).toMatchObject({ kind: 'layer', layer: 'conv', target: [1] });
    expect(json[2]).toMatchObject({ kind: 'component', components: ['blocks.0.attn.hook_z', 'blocks.1.attn.hook_z'], axes: ['component'], data: [0.25, -1] });
    expect(json[3]).toMatchObject({ kind: 'data', shape: [1, 3], trainIds: ['a', 'b', 'c'] });
    expect(json[3]).not.toHaveProperty('testIds');
    expect(json[4]).toMatchObject({ kind: 'context', sources: [{ source: 'doc', start: 0, end: 3, text: 'abc' }] });
  });

  it('the schema rejects a result missing what its kind needs (the check can fail)', () => {
    const base = { method: 'm', shape: [1, 1], data: [0], diagnostics: { evaluations: 1, elapsedMs: 0, truncated: false } };
    expect(validate({ kind: 'context', ...base }, ATTRIBUTION_JSON_SCHEMA)).not.toEqual([]);
    expect(validate({ kind: 'layer', ...base, target: null }, ATTRIBUTION_JSON_SCHEMA)).not.toEqual([]);
    expect(validate({ kind: 'component', ...base, components: ['a'], axes: ['bogus'], target: null }, ATTRIBUTION_JSON_SCHEMA)).not.toEqual([]);
    expect(validate({ kind: 'feature', ...base, target: null }, ATTRIBUTION_JSON_SCHEMA)).toEqual([]);
    expect(validate({ kind: 'unknown', ...base, target: null }, ATTRIBUTION_JSON_SCHEMA)).not.toEqual([]);
  });
});
