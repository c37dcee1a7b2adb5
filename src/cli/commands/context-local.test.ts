import '@tensorflow/tfjs-backend-cpu';
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FACT_LOOKUP_DIR, factLookupFigures, heldoutQuestions } from '../../../test/fact-lookup.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { AttributionError } from '../../core/errors.js';
import { PromptBuilder, DEFAULT_TEMPLATE } from '../../context/prompt.js';
import { splitSources } from '../../context/sources.js';
import type { LocalLmApi } from '../../context/scorers/local.js';
import { main } from '../main.js';
import { openLocalScorer } from './context-local.js';

let scorer: LocalLmApi;
let dispose: () => void;
let dir: string;
let bad = 0;
const questions = heldoutQuestions();

beforeAll(async () => {
  ({ scorer, dispose } = await openLocalScorer(FACT_LOOKUP_DIR, 32, undefined));
  dir = tempDir();
});
afterAll(() => {
  dispose();
  removeTempDirs();
});

async function attrib(...args: string[]) {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('local language model scorer (fact-lookup model)', () => {
  it('batched scoring equals one prompt at a time, and a batch of 32 prompts is one forward run', async () => {
    const q = questions[0]!;
    const sources = splitSources(q.context, 'sentences');
    const pb = new PromptBuilder(q.context, sources, q.query, DEFAULT_TEMPLATE);
    const prompts = Array.from({ length: 2 ** sources.length }, (_, m) => pb.prompt(Uint8Array.from(sources, (_, i) => (m >> i) & 1))).slice(0, 32);
    const before = scorer.client.requests;
    const batched = await Promise.all(prompts.map((p) => scorer.responseTokens(p, q.response)));
    expect(scorer.client.requests - before).toBe(1);
    for (const [i, p] of prompts.entries()) {
      const alone = await scorer.responseTokens(p, q.response);
      expect(alone.map((t) => [t.start, t.end])).toEqual(batched[i]!.map((t) => [t.start, t.end]));
      alone.forEach((t, k) => expect(t.logprob).toBeCloseTo(batched[i]![k]!.logprob, 4));
    }
    // the response "City." is two tokens; the full context makes the city likely, removing every source does not
    expect(batched[prompts.length - 1]).toHaveLength(2);
    const full = await scorer.responseTokens(pb.prompt(new Uint8Array(sources.length).fill(1)), q.response);
    expect(batched[0]![0]!.logprob).toBeLessThan(full[0]!.logprob - 1);
  });

  it('generates greedily, stopping after the word that ends the sentence', async () => {
    const q = questions[1]!;
    const text = await scorer.generate(DEFAULT_TEMPLATE.replace('{context}', q.context).replace('{query}', q.query), 8);
    expect(text).toMatch(/^\w+\.$/); // a city and '.', no leading space after "Answer: "
  });

  // The acceptance (top-1 ≥ 95 %, LDS ≥ 0.8) is measured on all 100 questions by
  // scripts/context-local-acceptance.ts (100 %, 0.87; docs/context-attribution.md); on these 20 the
  // committed model measures 100 % and 0.88 (min 0.81), so the bounds below leave a small margin.
  it('ContextCite at 32 ablations puts the supporting sentence first (≥ 95 %), LDS ≥ 0.8, on 20 held-out questions', async () => {
    const f = await factLookupFigures(scorer, questions.slice(0, 20), { ablations: 32, lds: 32 });
    expect(f.top1).toBeGreaterThanOrEqual(0.95);
    expect(f.meanLds).toBeGreaterThanOrEqual(0.8);
    expect(f.minLds).toBeGreaterThanOrEqual(0.6);
    // 33 + 32 prompts per question, scored 32 at a time
    expect(f.runs).toBeLessThanOrEqual(20 * 4);
  }, 60_000);
});

describe('attrib context --model DIR', () => {
  const q = questions[2]!;
  const ctx = () => {
    const f = path.join(dir, 'ctx.txt');
    writeFileSync(f, q.context);
    return f;
  };

  it('writes the result with api "local", the supporting sentence on top', async () => {
    const out = path.join(dir, 'local.json');
    const r = await attrib('context', '--model', FACT_LOOKUP_DIR, '--context', ctx(), '--query', q.query, '--response', q.response, '--method', 'leave-one-out', '--out', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { api: string; response: string; sources: { score: number }[]; diagnostics: { prompts: number; requests: number } };
    expect(json.api).toBe('local');
    expect(json.response).toBe(q.response);
    const best = json.sources.reduce((b, s, i, a) => (s.score > a[b]!.score ? i : b), 0);
    expect(best).toBe(q.support);
    expect(json.diagnostics.prompts).toBe(json.sources.length + 1);
  });

  it.each([
    ['--model with --endpoint', (c: string) => ['--model', FACT_LOOKUP_DIR, '--endpoint', 'http://127.0.0.1:9', '--context', c], /invalid_argument: Options '--model'/],
    ['a folder without tokenizer.json', (c: string) => ['--model', noTokenizer(), '--context', c], /invalid_file: .*tokenizer\.json/],
    ['an empty context', (_: string) => ['--model', FACT_LOOKUP_DIR, '--context', emptyFile()], /invalid_argument/],
    ['a response span outside the response', (c: string) => ['--model', FACT_LOOKUP_DIR, '--context', c, '--response', 'Oslo.', '--response-span', '9:'], /invalid_argument/],
    ['a response that tokenizes to nothing', (c: string) => ['--model', FACT_LOOKUP_DIR, '--context', c, '--response', '  '], /invalid_argument: .*response/],
  ])('%s: exit 2, one line, nothing written', async (_, args, message) => {
    const out = path.join(dir, `bad-${++bad}.json`);
    const r = await attrib('context', ...args(ctx()), '--query', q.query, '--method', 'leave-one-out', '--out', out, '--quiet');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('a prompt longer than the model\'s positions is invalid_argument, from the library too', async () => {
    const long = Array.from({ length: 6 }, () => q.context).join(' ');
    const pb = new PromptBuilder(long, splitSources(long, 'sentences'), q.query, DEFAULT_TEMPLATE);
    const err = await scorer.responseTokens(pb.prompt(new Uint8Array(pb.sources.length).fill(1)), q.response).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AttributionError);
    expect((err as AttributionError).code).toBe('invalid_argument');
  });
});

function noTokenizer(): string {
  const d = path.join(dir, 'no-tokenizer');
  mkdirSync(d, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(FACT_LOOKUP_DIR, f), path.join(d, f));
  return d;
}

function emptyFile(): string {
  const f = path.join(dir, 'empty.txt');
  writeFileSync(f, '');
  return f;
}
