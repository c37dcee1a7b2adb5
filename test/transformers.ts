// The transformer fixtures (test/fixtures/transformers, README there): models, reference cases, node keys.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadTransformer } from '../src/io/load-transformer.js';
import type { HookedTransformer } from '../src/models/transformer/hooked-transformer.js';
import { ROOT } from './reference.js';

export const TRANSFORMER_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'transformers');
export const TRANSFORMER_MODELS = ['gpt2_induction', 'llama_induction'] as const;
export type TransformerFixture = (typeof TRANSFORMER_MODELS)[number];

export interface RefNode {
  readonly hook: string;
  readonly layer: number | null;
  readonly head: number | null;
  readonly position: number | null;
  readonly score: number;
}
export interface RefCase {
  readonly name: string;
  /** A: the answer's earlier copy replaced; B: the induction match broken (saturated attention). */
  readonly kind: 'A' | 'B';
  readonly tokens: number[];
  readonly corrupt_tokens: number[];
  readonly answer: number;
  readonly wrong: number;
  /** Kind A: the position of the answer's earlier copy; kind B: of the induction match token. */
  readonly changed_position: number;
  readonly metric: { readonly clean: number; readonly corrupt: number };
  readonly methods: Record<string, { readonly nodes: RefNode[]; readonly unembed_bias_term?: number; readonly final_norm_scale?: number }>;
}

export const fixtureModelDir = (name: TransformerFixture): string => path.join(TRANSFORMER_FIXTURES, 'models', name);
export const fixturePath = (file: string): string => path.join(TRANSFORMER_FIXTURES, 'reference', file);
export const referenceCases = (name: TransformerFixture): RefCase[] => (JSON.parse(readFileSync(fixturePath(`${name}.json`), 'utf8')) as { cases: RefCase[] }).cases;

/** Nodes are matched by (hook, head, position). */
export const nodeKey = (n: { readonly hook: string; readonly head: number | null; readonly position: number | null }): string => `${n.hook}|${n.head}|${n.position}`;

/** Loads fixture `name` (one ORT thread) before the enclosing suite and disposes it after. */
export function useTransformerFixture(name: TransformerFixture): { readonly model: () => HookedTransformer; readonly cases: () => RefCase[] } {
  let model: HookedTransformer | undefined;
  let cases: RefCase[] = [];
  beforeAll(async () => {
    model = await loadTransformer(fixtureModelDir(name), { sessionOptions: { intraOpNumThreads: 1 } });
    cases = referenceCases(name);
  });
  afterAll(() => model?.dispose());
  return { model: () => model!, cases: () => cases };
}
