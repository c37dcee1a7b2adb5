// The project's lint bans (../shared/STYLE.md), checked over src/ on every test run.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './reference.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const files = sources(path.join(ROOT, 'src')).map((file) => ({ file: path.relative(ROOT, file), text: readFileSync(file, 'utf8') }));
const offenders = (re: RegExp, skip: (f: string) => boolean = () => false) => files.filter((f) => !skip(f.file) && re.test(f.text)).map((f) => f.file);

describe('style bans in src/', () => {
  it('has sources to check', () => expect(files.length).toBeGreaterThan(30));
  it('no Math.random (use the seeded Rng)', () => expect(offenders(/Math\.random/)).toEqual([]));
  it('no any', () => expect(offenders(/:\s*any\b|\bas any\b|<any>/)).toEqual([]));
  it('no default exports', () => expect(offenders(/export default/)).toEqual([]));
  it('no export *', () => expect(offenders(/export \*/)).toEqual([]));
  it('no tf.setBackend or enableProdMode outside cli/', () => expect(offenders(/setBackend\(|enableProdMode\(/, (f) => f.startsWith(path.join('src', 'cli')))).toEqual([]));
  it('no bare Error throws (typed errors only)', () => expect(offenders(/throw new Error\(/)).toEqual([]));
  it('index.ts uses explicit named exports only', () => {
    const index = files.find((f) => f.file === path.join('src', 'index.ts'))!;
    expect(index.text).not.toMatch(/export \*/);
  });
});
