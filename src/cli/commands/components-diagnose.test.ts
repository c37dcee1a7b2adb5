// `attrib components --method atp-star --diagnose`: the output keeps its keys and adds `diagnostic`;
// bad diagnostic flags exit 2.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { fixtureModelDir, referenceCases } from '../../../test/transformers.js';
import { tokenize } from '../args.js';
import { main } from '../main.js';
import { componentsCommand } from './components.js';

const MODEL = fixtureModelDir('llama_induction');
const c = referenceCases('llama_induction')[3]!; // n11_k7_B: AtP* ranks blocks.0 v head 0 (the largest effect) low

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);

describe('attrib components --diagnose', () => {
  const base = ['--model', MODEL, '--tokens', c.tokens.join(','), '--corrupt-tokens', c.corrupt_tokens.join(','), '--answer', String(c.answer), '--wrong', String(c.wrong), '--quiet'];

  it('adds a diagnostic object (the other keys unchanged) that flags the node AtP* misses', async () => {
    const file = path.join(tempDir(), 'star.json');
    const r = await componentsCommand(tokenize([...base, '--method', 'atp-star', '--diagnose', '--verify', '4', '--samples', '400', '--seed', '2', '--alpha', '0.1', '--out', file]).raw);
    const out = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { nodes: unknown[]; diagnostic: Record<string, unknown> & { flagged: string[]; verified: unknown[]; unverified: { upperBound: number }[]; thetaStar: number; diagnostics: { evaluations: number } } };
    expect(Object.keys(out).sort()).toEqual(['diagnostic', 'diagnostics', 'method', 'metric', 'nodes']);
    expect(out.method).toBe('atp-star');
    const d = out.diagnostic;
    expect(d).toMatchObject({ verify: 4, samples: 400, alpha: 0.1, seed: 2, inclusionProbability: 0.1 });
    expect(d.verified.length).toBe(4);
    expect(d.unverified.length).toBe(out.nodes.length - 4);
    expect(d.diagnostics.evaluations).toBe(2 + 4 + 400); // the AtP* scores of the output are reused
    expect(d.thetaStar).toBe(Math.max(...d.unverified.map((u) => u.upperBound)));
    expect(d.flagged).toContain('blocks.0.attn.hook_v[head=0]');
    expect(r.stdout).toMatch(/diagnostic: 4 verified, 35 bounded from 400 subsets .* θ\* = [\d.]+/);
    expect(r.stdout).toMatch(/verify next: .*blocks\.0\.attn\.hook_v\[head=0\]/);
 
    // a report folder: the page gets the diagnostic's section
    const dir = path.join(tempDir(), 'star');
    await componentsCommand(tokenize([...base, '--method', 'atp-star', '--diagnose', '--samples', '200', '--out', dir]).raw);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toMatch(/Remaining false negatives/);
    expect(html).toMatch(/θ\* = <b>[\d.]+<\/b>/);
    expect(html).toMatch(/blocks\.0\.attn\.hook_v\[head=0\]<\/td>.*verify next/);
    expect((JSON.parse(readFileSync(path.join(dir, 'components.json'), 'utf8')) as { diagnostic: { samples: number } }).diagnostic.samples).toBe(200);
  });

  it('bad diagnostic flags are one line on stderr and exit 2', async () => {
    const file = path.join(tempDir(), 'never.json');
    const run = (...more: string[]) => main(['components', ...base, '--out', file, ...more]);
    expect(await run('--method', 'atp', '--diagnose')).toBe(2); // not atp-star
    expect(await run('--method', 'atp-star', '--verify', '3')).toBe(2); // without --diagnose
    expect(await run('--method', 'atp-star', '--diagnose', '--samples', '1')).toBe(2);
    expect(await run('--method', 'atp-star', '--diagnose', '--inclusion-probability', '1.5')).toBe(2);
    expect(await run('--method', 'atp-star', '--diagnose', '--alpha', '0')).toBe(2);
    expect(await run('--method', 'atp-star', '--diagnose', '--correction', 'holm')).toBe(2);
    expect(await run('--method', 'atp-star', '--diagnose', '--verify', '39')).toBe(2);
    expect(existsSync(file)).toBe(false);
  });
});
