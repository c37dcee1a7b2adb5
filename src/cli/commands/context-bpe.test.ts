// attrib context --model DIR with BPE tokenizers (test/fixtures/llmtext: GPT-2 byte level, LLaMA
// sentencepiece style) on the tiny induction models of test/fixtures/transformers (same 96 ids):
// response log-probabilities against a direct forward run, and the CLI end to end.
import '@tensorflow/tfjs-backend-cpu';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { removeTempDirs, ROOT, tempDir } from '../../../test/reference.js';
import { fixtureModelDir } from '../../../test/transformers.js';
import { main } from '../main.js';
import { openLocalScorer } from './context-local.js';

afterAll(() => removeTempDirs());

const CASES = [
  ['gpt2_induction', 'gpt2'],
  ['llama_induction', 'llama'],
] as const;

/** A model folder: the induction model's config and weights with a tokenizer fixture. */
function folder(model: (typeof CASES)[number][0], tok: string): string {
  const dir = path.join(tempDir(), `${model}-${tok}`);
  mkdirSync(dir);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(fixtureModelDir(model), f), path.join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(ROOT, 'test/fixtures/llmtext', tok, f), path.join(dir, f));
  return dir;
}

// the induction models have 64 positions, and these tokenizers split most words into letters
const context = 'the cat sat. a dog ran. it is hot.';
const template = '{context} Q: {query} A: ';
const query = 'cat?';
const prompt = template.replace('{context}', context).replace('{query}', query);
const response = 'it sat.';

describe.each(CASES)('%s with the %s BPE tokenizer', (modelName, tok) => {
  it('response tokens: found by offsets, each scored as log-softmax of the logits before it (a direct run)', async () => {
    const { scorer, model, tokenizer, dispose } = await openLocalScorer(folder(modelName, tok), 8, undefined);
    try {
      const got = await scorer.responseTokens(prompt, response);
      const toks = tokenizer.encode(prompt + response);
      const first = toks.findIndex((t) => t.end > prompt.length);
      expect(toks.slice(first).map((t) => (prompt + response).slice(t.start, t.end)).join('')).toBe(` ${response}`.slice(toks[first]!.start < prompt.length ? 0 : 1));
      expect(got).toHaveLength(toks.length - first);
      const ids = toks.map((t) => t.id);
      const { data } = await model.run(ids);
      const v = model.config.vocabSize;
      got.forEach((g, k) => {
        const i = first + k;
        const row = data.subarray((i - 1) * v, i * v);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        expect(g.logprob).toBeCloseTo(row[ids[i]!]! - lse, 5);
        expect([g.start, g.end]).toEqual([toks[i]!.start - prompt.length, toks[i]!.end - prompt.length]); // a token taking the space before the response starts at −1
      });
    } finally {
      dispose();
    }
  });

  it('greedy generation: the text the argmax tokens add after the prompt (the tokens carry their spaces)', async () => {
    const { scorer, model, tokenizer, dispose } = await openLocalScorer(folder(modelName, tok), 8, undefined);
    try {
      const text = await scorer.generate(prompt, 3);
      const ids = tokenizer.encode(prompt).map((t) => t.id);
      const v = model.config.vocabSize;
      const continuations: string[] = [];
      for (let k = 0; k < 3; k++) {
        const { data } = await model.run(ids);
        const row = data.subarray((ids.length - 1) * v, ids.length * v);
        ids.push(row.indexOf(Math.max(...row)));
        continuations.push(tokenizer.decode(ids).slice(tokenizer.decode(ids.slice(0, ids.length - k - 1)).length));
      }
      expect(text.length).toBeGreaterThan(0);
      expect(continuations).toContain(text);
    } finally {
      dispose();
    }
  });

  it('attrib context --model DIR runs leave-one-out end to end', async () => {
    const dir = folder(modelName, tok);
    const ctx = path.join(dir, 'ctx.txt');
    writeFileSync(ctx, context);
    const tpl = path.join(dir, 'template.txt');
    writeFileSync(tpl, template);
    const out = path.join(dir, 'out.json');
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
    let code: number;
    try {
      code = await main(['context', '--model', dir, '--context', ctx, '--query', query, '--template', tpl, '--response', response, '--method', 'leave-one-out', '--out', out, '--quiet']);
    } finally {
      vi.restoreAllMocks();
    }
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { api: string; sources: { text: string; score: number }[]; diagnostics: { prompts: number } };
    expect(json.api).toBe('local');
    expect(json.sources.map((s) => s.text)).toEqual(['the cat sat.', 'a dog ran.', 'it is hot.']);
    expect(json.sources.every((s) => Number.isFinite(s.score) && s.score !== 0)).toBe(true);
    expect(json.diagnostics.prompts).toBe(4);
  });
});
