import { describe, expect, it } from 'vitest';
import { startFakeLlm } from '../../../test/context-server.js';
import { connect } from '../connect.js';
import { echoedTokens } from './completions.js';
import { alignFromEnd, type ApiName } from './tokens.js';
import { promptLogprobTokens } from './vllm.js';

const cfg = { sources: ['Paris is in France.'], weights: [2], bias: -12, response: 'It is Paris.' };
const PROMPT = 'Context: Paris is in France.\n\nQuery: where?\n\nAnswer: ';

describe('log-probability protocols', () => {
  for (const api of ['completions', 'vllm', 'llama.cpp'] as const satisfies readonly ApiName[]) {
    it(`${api}: the response tokens (the straddling " It" included) carry the server's log-probs`, async () => {
      const s = await startFakeLlm(cfg);
      try {
        const p = connect({ api, endpoint: api === 'llama.cpp' ? s.url : `${s.url}/v1`, model: 'm' });
        const toks = await p.responseTokens(PROMPT, cfg.response);
        // " It" starts at the prompt's trailing space, one character before the response
        expect(toks.map((t) => [t.start, t.end])).toEqual([[-1, 2], [2, 5], [5, 12]]);
        for (const t of toks) expect(t.logprob).toBeCloseTo(-10 / 3, 12);
        const sent = s.log.find((l) => l.path !== '/tokenize')!.body;
        if (api === 'completions') expect(sent).toMatchObject({ model: 'm', echo: true, max_tokens: 0, logprobs: 1 });
        if (api === 'vllm') expect(sent).toMatchObject({ model: 'm', prompt_logprobs: 0, max_tokens: 1 });
        if (api === 'llama.cpp') expect(sent).toMatchObject({ n_predict: 1, cache_prompt: true, n_probs: 1 });
        expect(await p.generate(PROMPT, 8)).toMatch(/It is Paris\./);
      } finally {
        await s.close();
      }
    });
  }

  it('the three protocols agree on the offsets of a non-ASCII response (llama.cpp pieces as UTF-8 bytes)', async () => {
    const response = 'Café ☕ 𝔁 naïve.';
    const s = await startFakeLlm({ ...cfg, response, bytePieces: true });
    try {
      const got = [];
      for (const api of ['completions', 'vllm', 'llama.cpp'] as const) {
        got.push(await connect({ api, endpoint: api === 'llama.cpp' ? s.url : `${s.url}/v1` }).responseTokens(PROMPT, response));
      }
      const want = [[-1, 4], [4, 6], [6, 9], [9, 16]];
      for (const toks of got) expect(toks.map((t) => [t.start, t.end])).toEqual(want);
      expect(got[2]!.map((t) => t.logprob)).toEqual(got[0]!.map((t) => t.logprob));
    } finally {
      await s.close();
    }
  });

  it('completions falls back to max_tokens 1 once when 0 is refused, dropping the generated token', async () => {
    const s = await startFakeLlm({ ...cfg, refuseZeroMaxTokens: true });
    try {
      const p = connect({ api: 'completions', endpoint: `${s.url}/v1` });
      const a = await p.responseTokens(PROMPT, cfg.response);
      const b = await p.responseTokens(PROMPT.replace('Paris', 'Lyon'), cfg.response);
      expect(a).toHaveLength(3);
      expect(b).toHaveLength(3);
      expect(a[0]!.logprob - b[0]!.logprob).toBeCloseTo(2 / 3, 12);
      expect(s.log.map((l) => l.body['max_tokens'])).toEqual([0, 1, 1]);
    } finally {
      await s.close();
    }
  });

  it('a server that does not echo logprobs: capability_missing naming --api vllm and --api llama.cpp', async () => {
    const s = await startFakeLlm({ ...cfg, noEcho: true });
    try {
      const e = await connect({ api: 'completions', endpoint: `${s.url}/v1` }).responseTokens(PROMPT, cfg.response).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'capability_missing' });
      expect((e as Error).message).toMatch(/--api vllm.*--api llama\.cpp/);
    } finally {
      await s.close();
    }
  });

  it('vLLM without a BOS entry aligns the same (offsets from the end)', async () => {
    const s = await startFakeLlm({ ...cfg, bos: false });
    try {
      const toks = await connect({ api: 'vllm', endpoint: `${s.url}/v1` }).responseTokens(PROMPT, cfg.response);
      expect(toks.map((t) => t.start)).toEqual([-1, 2, 5]);
    } finally {
      await s.close();
    }
  });

  it('vLLM and llama.cpp protocols reject replies that lack their fields', async () => {
    const s = await startFakeLlm(cfg);
    try {
      // a wrong path: 404 says to check --endpoint
      await expect(connect({ api: 'vllm', endpoint: `${s.url}/v0` }).responseTokens(PROMPT, 'x')).rejects.toMatchObject({ code: 'invalid_argument', details: { status: 404 } });
    } finally {
      await s.close();
    }
    expect(() => promptLogprobTokens({ choices: [{ text: 'x' }] }, 'ab', 1, 'u')).toThrow(expect.objectContaining({ code: 'capability_missing' }));
    expect(() => promptLogprobTokens({ choices: [{ prompt_logprobs: [null, { 5: { logprob: -1 } }] }] }, 'ab', 1, 'u')).toThrow(/decoded_token/);
    expect(() => promptLogprobTokens({ choices: [{ prompt_logprobs: [null, 7] }] }, 'ab', 1, 'u')).toThrow(expect.objectContaining({ code: 'capability_missing' }));
    // more than the prompt token (prompt_logprobs > 0): which one is the prompt's is unknown
    const two = { 5: { logprob: -1, decoded_token: 'b' }, 9: { logprob: -2, decoded_token: 'c' } };
    expect(() => promptLogprobTokens({ choices: [{ prompt_logprobs: [null, two] }] }, 'ab', 1, 'u')).toThrow(/2 tokens/);
    // the top-level placement is read too
    expect(promptLogprobTokens({ prompt_logprobs: [null, { 5: { logprob: -1, decoded_token: 'b' } }] }, 'ab', 1, 'u')).toEqual([{ start: 0, end: 1, logprob: -1 }]);
  });

  it('echoedTokens checks the arrays: lengths, offsets, log-probs', () => {
    const reply = (lp: unknown) => ({ choices: [{ logprobs: lp }] });
    const text = 'ab cd';
    expect(echoedTokens(reply({ tokens: ['ab', ' cd'], token_logprobs: [null, -0.5], text_offset: [0, 2] }), text, 3, 'u')).toEqual([{ start: -1, end: 2, logprob: -0.5 }]);
    expect(() => echoedTokens({ error: { message: 'model overloaded' } }, text, 3, 'u')).toThrow(expect.objectContaining({ code: 'backend_failure', message: expect.stringMatching(/model overloaded/) }));
    for (const bad of [
      null,
      { tokens: ['ab'], token_logprobs: [null, -1], text_offset: [0, 2] },
      { tokens: ['ab', ' cd'], token_logprobs: [null, null], text_offset: [0, 2] },
      { tokens: ['ab', ' cd'], token_logprobs: [null, -1], text_offset: [0, 'x'] },
      { tokens: ['ab', ' cd'], token_logprobs: [null, -1], text_offset: [3, 2] },
      { tokens: ['ab'], token_logprobs: [null], text_offset: [0] },
    ]) {
      expect(() => echoedTokens(reply(bad), text, 3, 'u')).toThrow(expect.objectContaining({ code: 'capability_missing' }));
    }
  });

  it('alignFromEnd places pieces from the end, skipping a leading BOS', () => {
    // pieces: <s> (3 units, before the text), "ab", " cd": text "ab cd", response from 2
    expect(alignFromEnd([3, 2, 3], [null, -1, -2], 5, 2, 'u')).toEqual([{ start: 0, end: 3, logprob: -2 }]);
    // the text's first token has no log-probability: it cannot be scored and is left out
    expect(alignFromEnd([2, 3], [null, -2], 5, 1, 'u')).toEqual([{ start: 1, end: 4, logprob: -2 }]);
    expect(() => alignFromEnd([2, 3], [-1, null], 5, 1, 'u')).toThrow(expect.objectContaining({ code: 'capability_missing' }));
  });
});
