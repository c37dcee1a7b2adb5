import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pearson } from '../core/linalg.js';
import { startFakeLlm, type FakeLlmConfig } from '../../test/context-server.js';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { attributeContext, type ContextAttributeOptions } from './attribute-context.js';
import { ScoreCache } from './cache.js';
import { connect } from './connect.js';
import { HttpClient } from './http.js';
import { ResponseLogProb } from './scorer.js';
import type { ApiName, LogProbApi } from './scorers/tokens.js';

afterAll(removeTempDirs);

const SENTENCES = [
  'The Eiffel Tower is in Paris.',
  'It was finished in 1889.',
  'Bananas are rich in potassium.',
  'The tower is 330 metres tall.',
  'Gustave Eiffel’s company built it.',
  'Rain is common in Brittany.',
  'Paris is the capital of France.',
  'Cats sleep most of the day.',
  'The Louvre is a museum.',
  'Mount Blanc is the highest peak.',
];
const CONTEXT = `${SENTENCES.slice(0, 5).join(' ')}\n\n${SENTENCES.slice(5).join(' ')}`;
const WEIGHTS = [3, 0.1, 0.05, 0.2, 2, 0.08, 1.5, 0.12, 0.3, 0.06];
const RESPONSE = 'The tower stands in Paris, France.';

const base = (over: Partial<FakeLlmConfig> = {}): FakeLlmConfig => ({ sources: SENTENCES, weights: WEIGHTS, bias: -30, response: RESPONSE, ...over });

async function run(cfg: FakeLlmConfig, opts: Omit<Partial<ContextAttributeOptions>, 'response'> & Pick<ContextAttributeOptions, 'method'> & { response?: string | null }, api: ApiName = 'completions', concurrency = 8) {
  const server = await startFakeLlm(cfg);
  try {
    const endpoint = api === 'llama.cpp' ? server.url : `${server.url}/v1`;
    const before = tf.memory().numTensors;
    const { response = RESPONSE, ...rest } = opts;
    const r = await attributeContext(connect({ api, endpoint, model: 'fake', concurrency }), { context: CONTEXT, query: 'Where is the tower?', ...(response === null ? {} : { response }), ...rest });
    const scores = Array.from(await r.attribution.values.data());
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    return { r, scores, log: server.log };
  } finally {
    await server.close();
  }
}

const top = (s: number[], k: number) => s.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k).map((p) => p[1]).sort();

describe('attributeContext on an additive server (log p = b + Σ w_i [i present])', () => {
  it('leave-one-out recovers w to 1e-3 relative, with n + 1 requests', async () => {
    const { r, scores } = await run(base(), { method: 'leave-one-out' });
    scores.forEach((s, i) => expect(Math.abs(s - WEIGHTS[i]!)).toBeLessThanOrEqual(1e-3 * Math.abs(WEIGHTS[i]!)));
    expect(r.attribution.sources.map((s) => s.text)).toEqual(SENTENCES);
    expect(r.diagnostics.requests).toBe(SENTENCES.length + 1);
    expect(r.diagnostics.fullLogProb).toBeCloseTo(-30 + WEIGHTS.reduce((a, b) => a + b, 0), 9);
  });

  it('context-cite (64 ablations) has Pearson ≥ 0.95 with w, the true sources on top, ≤ ablations + 2 requests', async () => {
    const { r, scores } = await run(base(), { method: 'context-cite', seed: 3 });
    expect(pearson(scores, WEIGHTS)).toBeGreaterThanOrEqual(0.95);
    expect(top(scores, 3)).toEqual([0, 4, 6]);
    expect(r.diagnostics.requests).toBeLessThanOrEqual(64 + 2);
    expect(r.diagnostics.requests).toBe(r.diagnostics.prompts);
  });

  it('ResponseLogProb sums log p over the span’s tokens, once per prompt, and counts them', async () => {
    let calls = 0;
    const api: LogProbApi = {
      api: 'completions',
      client: new HttpClient('http://127.0.0.1:9'),
      model: undefined,
      responseTokens: async () => (calls++, [{ start: -1, end: 3, logprob: Math.log(0.5) }, { start: 3, end: 6, logprob: Math.log(0.8) }, { start: 6, end: 9, logprob: Math.log(0.1) }]),
      generate: async () => '',
      requestsPerPrompt: () => 1,
    };
    const r = new ResponseLogProb(api, 'abcdefghi', { start: 2, end: 7 });
    expect(await r.of('p')).toBeCloseTo(Math.log(0.5 * 0.8 * 0.1), 12);
    expect(r.scoredTokens).toBe(3);
    expect(await r.of('p')).toBeCloseTo(Math.log(0.04), 12);
    expect(calls).toBe(1);
    expect(r.prompts).toBe(1);
  });

  it('a pairwise interaction puts both sources of the pair in the top 3 (context-cite and leave-one-out)', async () => {
    const weights = WEIGHTS.map(() => 0.1);
    const cfg = base({ weights, interactions: [{ i: 2, j: 7, value: 4 }] });
    for (const method of ['context-cite', 'leave-one-out'] as const) {
      const { scores } = await run(cfg, { method, seed: 1 });
      const t = top(scores, 3);
      expect(t).toContain(2);
      expect(t).toContain(7);
    }
  });

  it('kernel-shap with every coalition gives the exact Shapley values (= w for an additive game)', async () => {
    const cfg = base({ sources: SENTENCES.slice(0, 5), weights: WEIGHTS.slice(0, 5), interactions: [{ i: 1, j: 3, value: 1 }] });
    const { r, scores } = await run(cfg, { method: 'kernel-shap', context: SENTENCES.slice(0, 5).join(' '), ablations: 100 });
    // Shapley: the interaction splits evenly between its two players
    const want = WEIGHTS.slice(0, 5).map((w, i) => w + (i === 1 || i === 3 ? 0.5 : 0));
    scores.forEach((s, i) => expect(s).toBeCloseTo(want[i]!, 4));
    expect(r.diagnostics.requests).toBe(2 ** 5 - 2 + 2);
  });

  it('kernel-shap needs at least 3 ablations', async () => {
    await expect(run(base(), { method: 'kernel-shap', ablations: 2 })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('kernel-shap sampled (64 ablations: the empty context and 63 coalitions) correlates with w', async () => {
    const { r, scores } = await run(base(), { method: 'kernel-shap', seed: 2 });
    expect(pearson(scores, WEIGHTS)).toBeGreaterThanOrEqual(0.95);
    expect(r.diagnostics.requests).toBeLessThanOrEqual(64 + 2);
  });

  it('attribot: paragraph leave-one-out, then sentence leave-one-out inside the kept paragraphs only', async () => {
    // paragraph 0 (sources 0–4) drops 5.35, paragraph 1 drops 2.06: with one kept, the second stage
    // runs on paragraph 0 alone (additive: w again) and paragraph 1's sentences score 0
    const one = await run(base(), { method: 'attribot', keepGroups: 1 });
    for (let i = 0; i < 5; i++) expect(one.scores[i]).toBeCloseTo(WEIGHTS[i]!, 5);
    for (let i = 5; i < 10; i++) expect(one.scores[i]).toBe(0);
    // full, 2 groups, 5 sentences: the pruned context (paragraph 1 dropped) was a stage-1 prompt already
    expect(one.r.diagnostics.requests).toBe(1 + 2 + 5);
    // an interaction across paragraphs: pruning paragraph 1 away changes what s0 is worth
    const cross = await run(base({ interactions: [{ i: 0, j: 7, value: 2 }] }), { method: 'attribot', keepGroups: 1 });
    expect(cross.scores[0]).toBeCloseTo(WEIGHTS[0]!, 5);
    // every paragraph kept (default 3 ≥ 2): leave-one-out; the pruned context is the full one (a cache hit)
    const all = await run(base(), { method: 'attribot' });
    all.scores.forEach((s, i) => expect(s).toBeCloseTo(WEIGHTS[i]!, 5));
    expect(all.r.diagnostics.requests).toBe(1 + 2 + 10);
  });

  it('sends requests concurrently: 64 ablations at 100 ms latency take < 0.5 × 64 × 100 ms', async () => {
    const t0 = performance.now();
    const { r } = await run(base({ latencyMs: 100 }), { method: 'context-cite', seed: 5 });
    expect(performance.now() - t0).toBeLessThan(0.5 * 64 * 100);
    expect(r.diagnostics.requests).toBeLessThanOrEqual(66);
  });

  it('evaluates: LDS on held-out ablations near 1 for context-cite, top-k drops sum the top weights', async () => {
    const { r } = await run(base(), { method: 'context-cite', seed: 4, ldsAblations: 32, topK: [1, 3] });
    expect(r.diagnostics.lds).toBeGreaterThan(0.9);
    expect(r.diagnostics.topKDrop?.[0]?.drop).toBeCloseTo(3, 6);
    expect(r.diagnostics.topKDrop?.[1]?.drop).toBeCloseTo(6.5, 6);
  });

  it('scores only a span of the response (LAQuer): the log-prob scales with the span’s share of tokens', async () => {
    // 6 response tokens share the total evenly; the span "Paris, France." covers 2 of them
    const { r, scores } = await run(base(), { method: 'leave-one-out', responseSpan: 'Paris, France.' });
    scores.forEach((s, i) => expect(s).toBeCloseTo((WEIGHTS[i]! * 2) / 6, 6));
    expect(r.responseSpan).toEqual({ start: RESPONSE.indexOf('Paris'), end: RESPONSE.length });
  });

  it('generates the response greedily when none is given', async () => {
    const { r, log } = await run(base(), { method: 'leave-one-out', response: null });
    expect(r.response).toBe(RESPONSE);
    expect(log[0]?.body['max_tokens']).toBe(256);
    expect(log[0]?.body['temperature']).toBe(0);
    expect(r.diagnostics.requests).toBe(SENTENCES.length + 2);
  });

  it('a rerun with the on-disk cache sends no request; the cache folder is private', async () => {
    const dir = path.join(tempDir(), 'cache');
    const server = await startFakeLlm(base());
    try {
      const go = () => attributeContext(connect({ api: 'completions', endpoint: `${server.url}/v1`, model: 'm' }), { context: CONTEXT, query: 'q', response: RESPONSE, method: 'context-cite', cache: new ScoreCache(dir) });
      const first = await go();
      const second = await go();
      expect(first.diagnostics.requests).toBeGreaterThan(0);
      expect(second.diagnostics.requests).toBe(0);
      expect(Array.from(second.attribution.values.dataSync())).toEqual(Array.from(first.attribution.values.dataSync()));
      first.dispose();
      second.dispose();
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const files = readdirSync(dir);
      expect(files.every((f) => f.endsWith('.json'))).toBe(true);
      expect(statSync(path.join(dir, files[0]!)).mode & 0o777).toBe(0o600);
    } finally {
      await server.close();
    }
  });

  for (const api of ['vllm', 'llama.cpp'] as const) {
    it(`leave-one-out over --api ${api} recovers w`, async () => {
      const { r, scores } = await run(base(), { method: 'leave-one-out' }, api);
      scores.forEach((s, i) => expect(Math.abs(s - WEIGHTS[i]!)).toBeLessThanOrEqual(1e-3 * Math.abs(WEIGHTS[i]!)));
      expect(r.diagnostics.prompts).toBe(SENTENCES.length + 1);
      // llama.cpp: one /tokenize plus one forced /completion per response token (6), per prompt
      expect(r.diagnostics.requests).toBe((SENTENCES.length + 1) * (api === 'vllm' ? 1 : 7));
    });
  }
});

describe('attributeContext: bad input', () => {
  it('stops at the request budget (budget_exceeded) and on abort (aborted)', async () => {
    const server = await startFakeLlm(base({ latencyMs: 20 }));
    try {
      const opts = { context: CONTEXT, query: 'q', response: RESPONSE, method: 'context-cite' } as const;
      // checked after the full prompt, before the ablations
      await expect(attributeContext(connect({ api: 'completions', endpoint: `${server.url}/v1`, maxRequests: 10 }), opts)).rejects.toMatchObject({ code: 'budget_exceeded', details: { needed: 65, budget: 10 } });
      expect(server.log).toHaveLength(1);
      // llama.cpp: 1 + 6 requests per prompt
      await expect(attributeContext(connect({ api: 'llama.cpp', endpoint: server.url, maxRequests: 50 }), { ...opts, method: 'leave-one-out' })).rejects.toMatchObject({ code: 'budget_exceeded', details: { needed: 7 + 10 * 7 } });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 60);
      await expect(attributeContext(connect({ api: 'completions', endpoint: `${server.url}/v1`, signal: ac.signal }), { ...opts, signal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
    } finally {
      await server.close();
    }
  });

  it('replaces ablated sources when asked, and takes caller-given spans', async () => {
    const server = await startFakeLlm(base());
    try {
      const spans = [{ source: 'para-1', start: 0, end: CONTEXT.indexOf('\n\n') }, { source: 'para-2', start: CONTEXT.indexOf('\n\n') + 2, end: CONTEXT.length }];
      const r = await attributeContext(connect({ api: 'completions', endpoint: `${server.url}/v1` }), { context: CONTEXT, query: 'q', response: RESPONSE, method: 'leave-one-out', sources: spans, replacement: '[removed]' });
      const scores = Array.from(await r.attribution.values.data());
      r.dispose();
      expect(scores[0]).toBeCloseTo(WEIGHTS.slice(0, 5).reduce((a, b) => a + b, 0), 5);
      expect(scores[1]).toBeCloseTo(WEIGHTS.slice(5).reduce((a, b) => a + b, 0), 5);
      expect(r.attribution.sources.map((s) => s.source)).toEqual(['para-1', 'para-2']);
      expect(String(server.log.at(-1)!.body['prompt'])).toContain('[removed]');
    } finally {
      await server.close();
    }
  });

  it('empty context and empty response are invalid_argument, before any request', async () => {
    const server = await startFakeLlm(base());
    try {
      const api = connect({ api: 'completions', endpoint: `${server.url}/v1` });
      await expect(attributeContext(api, { context: '  \n ', query: 'q', response: 'r', method: 'leave-one-out' })).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(attributeContext(api, { context: CONTEXT, query: 'q', response: '', method: 'leave-one-out' })).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(attributeContext(api, { context: CONTEXT, query: 'q', response: 'r', method: 'context-cite', ablations: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(attributeContext(api, { context: CONTEXT, query: 'q', response: 'r', method: 'leave-one-out', responseSpan: 'zzz' })).rejects.toMatchObject({ code: 'invalid_argument' });
      expect(server.log).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('a response that tokenizes to nothing is invalid_argument', async () => {
    // a server whose tokenizer drops the response (e.g. characters it normalises away): no token covers it
    const client = new HttpClient('http://127.0.0.1:9');
    const api: LogProbApi = { api: 'completions', client, model: undefined, responseTokens: async () => [{ start: -10, end: 0, logprob: -1 }], generate: async () => '', requestsPerPrompt: () => 1 };
    await expect(attributeContext(api, { context: CONTEXT, query: 'q', response: '\u200b', method: 'leave-one-out' })).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/covers no token/) });
    // a server that generates only white space
    const ws: LogProbApi = { ...api, generate: async () => '  \n' };
    await expect(attributeContext(ws, { context: CONTEXT, query: 'q', method: 'leave-one-out' })).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/generated nothing/) });
  });
});
