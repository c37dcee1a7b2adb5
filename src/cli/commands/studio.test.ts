// `attrib studio` as the CLI runs it: flags checked before anything starts, the start URL printed,
// a warning beyond loopback, and a clean stop when its signal fires.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../test/reference.js';
import { hostWarning, studioCommand } from './studio.js';

describe('attrib studio', () => {
  it('prints the start URL with a token, serves until its signal fires, then stops', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const ac = new AbortController();
    const done = studioCommand(new Map<string, string | true>([['models', path.join(ROOT, 'models')], ['port', '0']]), ac.signal, (l) => out.push(l), (l) => err.push(l));
    for (let k = 0; k < 200 && out.length === 0; k++) await new Promise((r) => setTimeout(r, 25));
    const url = /^attrib studio: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32})$/.exec(out[0] ?? '')?.[1];
    expect(url).toBeDefined();
    expect((await fetch(url!)).status).toBe(200);
    ac.abort();
    await done;
    await expect(fetch(url!)).rejects.toThrow();
    expect(err).toEqual([]);
  });

  it('refuses bad flags before anything starts (invalid_argument)', async () => {
    const run = (flags: [string, string | true][]) => studioCommand(new Map(flags), AbortSignal.abort(), () => undefined, () => undefined);
    await expect(run([['port', '70000']])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'port' } });
    await expect(run([['engine', 'gpu']])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'engine' } });
    await expect(run([['bogus', '1']])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'bogus' } });
    await expect(run([['models', path.join(ROOT, 'no-such-folder')], ['port', '0']])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'models' } });
    // a file is no models folder (it served an empty studio)
    await expect(run([['models', path.join(ROOT, 'README.md')], ['port', '0']])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'models' } });
  });

  it('warns when --host leaves loopback, and only then', () => {
    for (const h of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) expect(hostWarning(h)).toBeUndefined();
    for (const h of ['0.0.0.0', '::', '192.168.1.5', 'my-laptop.local']) expect(hostWarning(h)).toMatch(/^attrib: warning: the studio listens on .*not on loopback/);
  });
});
