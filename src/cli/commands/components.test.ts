// `attrib components`: the output JSON of the format, matched against the reference; the report folder; bad input exits 2.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { fixtureModelDir, referenceCases, type RefNode } from '../../../test/transformers.js';
import { tokenize } from '../args.js';
import { main } from '../main.js';
import { componentsCommand } from './components.js';
import { methodsCommand } from './methods.js';

const MODEL = fixtureModelDir('llama_induction');
const ref = { cases: referenceCases('llama_induction') };

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);

describe('attrib components', () => {
  it('writes {method, metric, nodes, diagnostics} matching the reference (atp, per position) and a report folder', async () => {
    const c = ref.cases[1]!;
    const file = path.join(tempDir(), 'atp.json');
    const args = ['--model', MODEL, '--tokens', c.tokens.join(','), '--corrupt-tokens', c.corrupt_tokens.join(','), '--answer', String(c.answer), '--wrong', String(c.wrong), '--method', 'atp', '--nodes', 'z,q,k,v,mlp', '--per-position', '--out', file];
    await componentsCommand(tokenize(args).raw);
    const out = JSON.parse(readFileSync(file, 'utf8')) as { method: string; metric: { clean: number; corrupt: number }; nodes: RefNode[]; diagnostics: { elapsedMs: number; evaluations: number } };
    expect(out.method).toBe('atp');
    expect(Object.keys(out).sort()).toEqual(['diagnostics', 'method', 'metric', 'nodes']);
    expect(Object.keys(out.nodes[0]!).sort()).toEqual(['head', 'hook', 'layer', 'position', 'score']);
    expect(out.diagnostics.evaluations).toBe(2);
    expect(Math.abs(out.metric.clean - c.metric.clean)).toBeLessThan(1e-3);
    const want = new Map(c.methods['atp-per-position']!.nodes.map((n) => [`${n.hook}|${n.head}|${n.position}`, n.score]));
    expect(out.nodes.length).toBe(want.size);
    const scale = Math.max(...[...want.values()].map(Math.abs));
    for (const n of out.nodes) expect(Math.abs(n.score - want.get(`${n.hook}|${n.head}|${n.position}`)!) / scale).toBeLessThan(1e-4);

    const dir = path.join(tempDir(), 'dla');
    const dla = await componentsCommand(tokenize(['--model', MODEL, '--tokens', c.tokens.join(','), '--answer', String(c.answer), '--wrong', String(c.wrong), '--method', 'direct-logit-attribution', '--out', dir]).raw);
    expect(dla.files.map((f) => path.basename(f)).sort()).toEqual(['components.json', 'report.html']);
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toMatch(/hook_z: layer × head/);
  });

  it('honours the abort signal (Ctrl-C): rejects with aborted and writes nothing', async () => {
    const c = ref.cases[0]!;
    const file = path.join(tempDir(), 'aborted.json');
    const args = ['--model', MODEL, '--tokens', c.tokens.join(','), '--corrupt-tokens', c.corrupt_tokens.join(','), '--answer', String(c.answer), '--wrong', String(c.wrong), '--method', 'activation-patching', '--quiet', '--out', file];
    await expect(componentsCommand(tokenize(args).raw, AbortSignal.abort())).rejects.toMatchObject({ code: 'aborted' });
    expect(existsSync(file)).toBe(false);
  });

  it('bad input is one line on stderr and exit 2', async () => {
    const c = ref.cases[0]!;
    const base = ['components', '--model', MODEL, '--answer', String(c.answer), '--wrong', String(c.wrong)];
    const file = path.join(tempDir(), 'never.json');
    expect(await main([...base, '--tokens', '0,1,96', '--method', 'logit-lens', '--out', file])).toBe(2);
    expect(await main([...base, '--tokens', c.tokens.join(','), '--method', 'atp'])).toBe(2); // no --corrupt-tokens
    expect(await main([...base, '--tokens', c.tokens.join(','), '--method', 'logit-lens', '--nodes', 'z,heads'])).toBe(2);
    expect(await main(['components', '--model', MODEL, '--tokens', '1,2', '--answer', '96', '--wrong', '0', '--method', 'logit-lens'])).toBe(2);
    expect(existsSync(file)).toBe(false);
  });

  it('attrib methods lists the component methods, with a detail view and JSON entries of kind component', () => {
    const table = methodsCommand(false);
    for (const id of ['activation-patching', 'atp', 'atp-star', 'direct-logit-attribution', 'logit-lens']) expect(table).toMatch(new RegExp(`^${id} +(patching|gradient|direct) +transformer`, 'm'));
    for (const line of table.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    const detail = methodsCommand(false, 'atp-star');
    expect(detail).toMatch(/^AtP\* \(QK fix \+ GradDrop\) \(atp-star\)/);
    expect(detail).toMatch(/cost\s+2 \+ L/);
    expect(detail).toMatch(/reference\s+Kramár/);
    expect(detail).toMatch(/usage: attrib components .*--method\s+atp-star \[--nodes z,q,k,v,mlp\]/s);
    for (const line of detail.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(methodsCommand(false, 'activation-patching')).toMatch(/batchSize .*default 64/);
    const json = JSON.parse(methodsCommand(true)) as { id: string; kind: string }[];
    expect(json.filter((m) => m.kind === 'component').map((m) => m.id)).toEqual(['activation-patching', 'atp', 'atp-star', 'direct-logit-attribution', 'logit-lens']);
    expect(json.find((m) => m.id === 'saliency')!.kind).toBe('feature');
    expect((JSON.parse(methodsCommand(true, 'atp')) as { kind: string }).kind).toBe('component');
  });
});
