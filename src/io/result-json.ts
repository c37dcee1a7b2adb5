// One JSON form, and one JSON Schema, for every kind of attribution result.
import type { AttributionResult, Diagnostics, SourceSpan } from '../core/result.js';
import { shortestFloat32 } from './tensor-json.js';

/** Diagnostics as JSON (`stderr`, a tensor, is left out). */
export interface DiagnosticsJson {
  readonly evaluations: number;
  readonly elapsedMs: number;
  readonly truncated: boolean;
  readonly convergenceDelta?: number[];
}

interface BaseJson {
  readonly method: string;
  /** Shape of `data` (row-major). */
  readonly shape: number[];
  readonly data: number[];
  readonly diagnostics: DiagnosticsJson;
}

/** A result as JSON: the common part plus what its kind adds, discriminated by `kind`. */
export type AttributionJson =
  | (BaseJson & { readonly kind: 'feature'; readonly target: number[] | null })
  | (BaseJson & { readonly kind: 'layer'; readonly layer: string; readonly target: number[] | null })
  | (BaseJson & { readonly kind: 'component'; readonly components: string[]; readonly axes: string[]; readonly target: number[] | null })
  | (BaseJson & { readonly kind: 'data'; readonly trainIds?: (string | number)[]; readonly testIds?: (string | number)[] })
  | (BaseJson & { readonly kind: 'context'; readonly sources: SourceSpan[] });

/**
 * Any attribution result as JSON (values as their shortest float32 decimals). The result keeps its
 * tensors; nothing is disposed here.
 */
export async function attributionJson(r: AttributionResult): Promise<AttributionJson> {
  const base: BaseJson = {
    method: r.method,
    shape: [...r.values.shape],
    data: Array.from(await r.values.data(), shortestFloat32),
    diagnostics: diagnosticsJson(r.diagnostics),
  };
  const target = r.diagnostics.targets ? [...r.diagnostics.targets] : null;
  switch (r.kind) {
    case 'feature':
      return { kind: r.kind, ...base, target };
    case 'layer':
      return { kind: r.kind, ...base, layer: r.layer, target };
    case 'component':
      return { kind: r.kind, ...base, components: [...r.components], axes: [...r.axes], target };
    case 'data':
      return { kind: r.kind, ...base, ...(r.trainIds ? { trainIds: [...r.trainIds] } : {}), ...(r.testIds ? { testIds: [...r.testIds] } : {}) };
    case 'context':
      return { kind: r.kind, ...base, sources: r.sources.map((s) => ({ ...s })) };
  }
}

function diagnosticsJson(d: Diagnostics): DiagnosticsJson {
  return {
    evaluations: d.evaluations,
    elapsedMs: Math.round(d.elapsedMs * 1000) / 1000,
    truncated: d.truncated,
    ...(d.convergenceDelta ? { convergenceDelta: Array.from(d.convergenceDelta, shortestFloat32) } : {}),
  };
}

const numbers = { type: 'array', items: { type: 'number' } } as const;
const ids = { type: 'array', items: { type: ['string', 'integer'] } } as const;
const target = { anyOf: [{ type: 'array', items: { type: 'integer', minimum: 0 } }, { type: 'null' }] } as const;
const common = {
  method: { type: 'string', minLength: 1 },
  shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
  data: numbers,
  diagnostics: {
    type: 'object',
    required: ['evaluations', 'elapsedMs', 'truncated'],
    properties: { evaluations: { type: 'integer', minimum: 0 }, elapsedMs: { type: 'number', minimum: 0 }, truncated: { type: 'boolean' }, convergenceDelta: numbers },
  },
} as const;
const kind = <K extends string, P extends object>(k: K, properties: P, required: readonly string[]) =>
  ({
    type: 'object',
    required: ['kind', 'method', 'shape', 'data', 'diagnostics', ...required],
    properties: { kind: { const: k }, ...common, ...properties },
  }) as const;

/** JSON Schema (draft 2020-12) of `attributionJson`'s output: one schema, a branch per kind. */
export const ATTRIBUTION_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://attrib.dev/schema/attribution.json',
  title: 'attrib attribution result',
  oneOf: [
    kind('feature', { target }, ['target']),
    kind('layer', { layer: { type: 'string' }, target }, ['layer', 'target']),
    kind('component', { components: { type: 'array', items: { type: 'string' } }, axes: { type: 'array', items: { enum: ['component', 'layer', 'head', 'pos', 'neuron'] } }, target }, ['components', 'axes', 'target']),
    kind('data', { trainIds: ids, testIds: ids }, []),
    kind(
      'context',
      {
        sources: {
          type: 'array',
          items: {
            type: 'object',
            required: ['source', 'start', 'end'],
            properties: { source: { type: 'string' }, start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 0 }, text: { type: 'string' } },
          },
        },
      },
      ['sources'],
    ),
  ],
} as const;
