// `attrib llm` and the --text flags of `attrib components`, on the GPT-2 induction fixture with a tokenizer.json beside it.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, ROOT, tempDir } from '../../../test/reference.js';
import { fixtureModelDir } from '../../../test/transformers.js';
import { tokenize } from '../args.js';
import { main } from '../main.js';
import { componentsCommand } from './components.js';
import { llmCommand } from './llm.js';

let MODEL = '';
const PROMPT = '<|endoftext|>ab5Xq!ab5'; // [BOS] r_1..r_6 r_1..r_3 → r_4 = 'X'
beforeAll(async () => {
  await useBackend('cpu');
  MODEL = tempDir();
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(fixtureModelDir('gpt2_induction'), f), path.join(MODEL, f));
  copyFileSync(path.join(ROOT, 'test', 'fixtures', 'llmtext', 'gpt2', 'tokenizer.json'), path.join(MODEL, 'tokenizer.json'));
});
afterAll(removeTempDirs);

const ids = (s: string): number[] => [...s].map((c) => c.charCodeAt(0) - 33 + 2 - (c > '~' ? 4 : 0)); // the fixture vocabulary: '!' = 2 …
const run = async (args: string[]): Promise<Record<string, unknown>> => JSON.parse((await llmCommand(tokenize(args).raw)).stdout) as Record<string, unknown>;

describe('attrib llm', () => {
  it('text and ids give the same result; greedy generation without a response continues the repeat', async () => {
    const prompt = [0, ...ids('ab5Xq!ab5')];
    const byText = await run(['--model', MODEL, '--text', PROMPT, '--response', 'Xq', '--method', 'feature-ablation', '--per-token']);
    const byIds = await run(['--model', MODEL, '--tokens', prompt.join(','), '--response-tokens', ids('Xq').join(','), '--method', 'feature-ablation', '--per-token']);
    expect((byText['prompt'] as { tokens: number[] }).tokens).toEqual(prompt);
    expect((byText['prompt'] as { strings: string[] }).strings.slice(0, 3)).toEqual(['<|endoftext|>', 'a', 'b']);
    expect(byText['scores']).toEqual(byIds['scores']);
    expect(byText['rows']).toEqual(['total', 'token 0', 'token 1']);
    const scores = (byText['scores'] as number[][])[0]!;
    expect(scores.indexOf(Math.max(...scores.slice(0, -1)))).toBe(4); // the earlier 'X' (the last token, the query, aside)
    const gen = await run(['--model', MODEL, '--text', PROMPT, '--max-new-tokens', '3', '--method', 'layer-integrated-gradients', '--steps', '16']);
    expect(gen['response']).toMatchObject({ tokens: ids('Xq!'), strings: ['X', 'q', '!'], generated: true });
    expect((gen['diagnostics'] as { convergenceDelta: number[] }).convergenceDelta).toHaveLength(1);
  });

  it('components --text/--corrupt-text/--answer-text/--wrong-text equal the id flags', async () => {
    const dir = tempDir();
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    await componentsCommand(tokenize(['--model', MODEL, '--text', PROMPT, '--corrupt-text', '<|endoftext|>ab5Yq!ab5', '--answer-text', 'X', '--wrong-text', 'Y', '--method', 'atp', '--out', a]).raw);
    const prompt = [0, ...ids('ab5Xq!ab5')];
    const corrupt = [0, ...ids('ab5Yq!ab5')];
    await componentsCommand(tokenize(['--model', MODEL, '--tokens', prompt.join(','), '--corrupt-tokens', corrupt.join(','), '--answer', String(ids('X')[0]), '--wrong', String(ids('Y')[0]), '--method', 'atp', '--out', b]).raw);
    const ja = JSON.parse(readFileSync(a, 'utf8')) as { nodes: unknown; metric: unknown };
    const jb = JSON.parse(readFileSync(b, 'utf8')) as { nodes: unknown; metric: unknown };
    expect(ja.nodes).toEqual(jb.nodes);
    expect(ja.metric).toEqual(jb.metric);
  });

  it('bad input is one line on stderr and exit 2', async () => {
    const file = path.join(tempDir(), 'never.json');
    expect(await main(['llm', '--model', MODEL, '--text', PROMPT, '--tokens', '0,1', '--out', file])).toBe(2); // both
    expect(await main(['llm', '--model', MODEL, '--tokens', '0,96', '--response-tokens', '1', '--out', file])).toBe(2);
    expect(await main(['llm', '--model', MODEL, '--tokens', '0,1', '--response-tokens', Array.from({ length: 64 }, () => 1).join(','), '--out', file])).toBe(2);
    expect(await main(['llm', '--model', MODEL, '--tokens', '0,1', '--response-tokens', '1', '--method', 'occlusion', '--out', file])).toBe(2);
    expect(await main(['components', '--model', MODEL, '--text', PROMPT, '--answer-text', 'Xq', '--wrong', '3', '--method', 'logit-lens'])).toBe(2); // two tokens
    expect(await main(['components', '--model', fixtureModelDir('gpt2_induction'), '--text', PROMPT, '--answer', '1', '--wrong', '3', '--method', 'logit-lens'])).toBe(2); // no tokenizer.json
    expect(existsSync(file)).toBe(false);
  });
});
