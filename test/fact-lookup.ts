// The fact-lookup acceptance run of a local model (test/fixtures/context-local/): shared by
// src/cli/commands/context-local.test.ts (a few questions) and scripts/context-local-acceptance.ts (all 100).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { attributeContext } from '../src/context/attribute-context.js';
import type { LogProbApi } from '../src/context/scorers/tokens.js';
import { ROOT } from './reference.js';

export const FACT_LOOKUP_DIR = path.join(ROOT, 'test/fixtures/context-local/fact-lookup');
export const HELDOUT_FILE = path.join(ROOT, 'test/fixtures/context-local/heldout.json');

export interface FactQuestion {
  readonly context: string;
  readonly query: string;
  readonly response: string;
  /** Index of the supporting sentence. */
  readonly support: number;
}

export function heldoutQuestions(): FactQuestion[] {
  return JSON.parse(readFileSync(HELDOUT_FILE, 'utf8')) as FactQuestion[];
}

export interface FactLookupFigures {
  readonly questions: number;
  /** Fraction of questions whose top-scoring source is the supporting sentence. */
  readonly top1: number;
  readonly meanLds: number;
  readonly minLds: number;
  /** Forward runs and prompts over all questions. */
  readonly runs: number;
  readonly prompts: number;
}

/** ContextCite over each question (sentences as sources), with the LDS on `lds` held-out ablations. */
export async function factLookupFigures(api: LogProbApi, questions: readonly FactQuestion[], opts: { ablations: number; lds: number; seed?: number }): Promise<FactLookupFigures> {
  let hits = 0;
  let ldsSum = 0;
  let minLds = Infinity;
  let runs = 0;
  let prompts = 0;
  for (const [i, q] of questions.entries()) {
    using run = await attributeContext(api, { context: q.context, query: q.query, response: q.response, method: 'context-cite', ablations: opts.ablations, seed: (opts.seed ?? 0) + i, ldsAblations: opts.lds });
    const scores = await run.attribution.values.data();
    let best = 0;
    for (let s = 1; s < scores.length; s++) if (scores[s]! > scores[best]!) best = s;
    if (best === q.support) hits++;
    const lds = run.diagnostics.lds ?? Number.NaN;
    ldsSum += lds;
    minLds = Math.min(minLds, lds);
    runs += run.diagnostics.requests;
    prompts += run.diagnostics.prompts;
  }
  return { questions: questions.length, top1: hits / questions.length, meanLds: ldsSum / questions.length, minLds, runs, prompts };
}
