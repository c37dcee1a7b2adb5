import { chmodSync, chownSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/reference.js';
import { ScoreCache } from './cache.js';

afterAll(removeTempDirs);

const key = ['completions', 'http://h/v1', 'm', 'prompt', 'response'] as const;
const toks = [{ start: -1, end: 3, logprob: -0.25 }, { start: 3, end: 8, logprob: -1.5 }];

describe('ScoreCache', () => {
  it('round-trips entries by key; another key (model, prompt, …) misses', async () => {
    const c = new ScoreCache(path.join(tempDir(), 'c'));
    expect(await c.get(key)).toBeUndefined();
    await c.set(key, toks);
    expect(await c.get(key)).toEqual(toks);
    expect(await c.get([...key.slice(0, 2), 'other-model', ...key.slice(3)])).toBeUndefined();
    expect(await new ScoreCache(c.dir).get(key)).toEqual(toks);
  });

  it('ignores corrupt, foreign and symlinked entries', async () => {
    const dir = path.join(tempDir(), 'c');
    const c = new ScoreCache(dir);
    await c.set(key, toks);
    const file = path.join(dir, readdirSync(dir)[0]!);
    for (const bad of ['{not json', JSON.stringify({ key: 'someone-else', tokens: [[0, 1, -1]] }), JSON.stringify({ key: ScoreCache.keyOf(key), tokens: [[0, 1, 'x']] })]) {
      writeFileSync(file, bad);
      expect(await c.get(key)).toBeUndefined();
    }
    const elsewhere = path.join(tempDir(), 'entry.json');
    writeFileSync(elsewhere, JSON.stringify({ key: ScoreCache.keyOf(key), tokens: [[0, 1, -1]] }));
    const other = ['vllm', 'u', undefined, 'p', 'r'];
    symlinkSync(elsewhere, path.join(dir, `${ScoreCache.keyOf(other)}.json`));
    expect(await c.get(other)).toBeUndefined();
  });

  it('does not use a folder others can write to, and never fails a run on a write error', async () => {
    const shared = path.join(tempDir(), 'shared');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const c = new ScoreCache(shared);
    await c.set(key, toks);
    expect(readdirSync(shared)).toEqual([]);
    expect(await c.get(key)).toBeUndefined();
    const blocked = path.join(tempDir(), 'file');
    writeFileSync(blocked, 'x');
    await expect(new ScoreCache(path.join(blocked, 'sub')).set(key, toks)).resolves.toBeUndefined();
  });

  // a folder someone else owns is theirs to write to, whatever its mode: its entries could be planted
  it.skipIf(process.getuid?.() !== 0)('does not read a folder another user owns (entries planted there are not trusted)', async () => {
    const theirs = path.join(tempDir(), 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    writeFileSync(path.join(theirs, `${ScoreCache.keyOf(key)}.json`), JSON.stringify({ key: ScoreCache.keyOf(key), tokens: [[0, 1, -99]] }), { mode: 0o644 });
    chownSync(path.join(theirs, `${ScoreCache.keyOf(key)}.json`), 65534, 65534);
    chownSync(theirs, 65534, 65534);
    expect(await new ScoreCache(theirs).get(key)).toBeUndefined();
  });
});
