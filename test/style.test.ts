// The project's lint bans (the project's STYLE.md), checked over src/ on every test run.
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

// Layers import only downward (DESIGN.md): core ← models ← attr ← metrics ← methods.ts ← jobs ← cli.
// Ranks of the top-level folders (and files) of src/; a file may import its own folder or a lower rank.
const RANK: Readonly<Record<string, number>> = {
  core: 0,
  models: 1,
  viz: 1, // pure data → RGBA/HTML, core only
  attr: 2,
  components: 2,
  data: 2,
  context: 2,
  io: 2, // files in and out, model loading: above models
  metrics: 3,
  methods: 4, // src/methods.ts, the catalogue
  benchmark: 5, // jobs: dataset runs over the catalogue
  demo: 5,
  jobs: 5,
  cli: 6,
  web: 6,
  index: 7, // entry points
  node: 7,
};

/** The top-level unit of src/ a file belongs to: its first folder, or its own name for a file at src/. */
function unitOf(file: string): string {
  const parts = path.relative(path.join(ROOT, 'src'), file).split(path.sep);
  return parts.length === 1 ? parts[0]!.replace(/\.[jt]s$/, '') : parts[0]!;
}

/** Relative module specifiers a source imports or re-exports (static, type-only and dynamic). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith('.'));
}

/** Imports that run back up: from a unit to one of a higher rank (or to a sibling unit of the same rank). */
function upwardImports(sources: readonly { file: string; text: string }[]): string[] {
  const bad: string[] = [];
  for (const { file, text } of sources) {
    const abs = path.join(ROOT, file);
    const from = unitOf(abs);
    for (const spec of importsOf(text)) {
      const to = unitOf(path.resolve(path.dirname(abs), spec));
      if (to === from) continue;
      const [rf, rt] = [RANK[from], RANK[to]];
      if (rf === undefined || rt === undefined || rt >= rf) bad.push(`${file} (${from}) imports ${spec} (${to})`);
    }
  }
  return bad;
}

describe('layers import only downward', () => {
  it('every top-level unit of src/ has a rank', () => {
    expect([...new Set(files.map((f) => unitOf(path.join(ROOT, f.file))))].filter((u) => RANK[u] === undefined)).toEqual([]);
  });
  it('no import from a lower layer to a higher one', () => expect(upwardImports(files)).toEqual([]));
  it('finds an upward import when there is one (the check can fail)', () => {
    const planted = [
      { file: path.join('src', 'core', 'x.ts'), text: "import { METHODS } from '../methods.js';" },
      { file: path.join('src', 'models', 'y.ts'), text: "export type { Z } from '../attr/z.js';" },
      { file: path.join('src', 'attr', 'w.ts'), text: "const m = await import('../metrics/deletion.js');" },
      { file: path.join('src', 'attr', 'ok.ts'), text: "import type { ModelAdapter } from '../models/model.js';\nimport { a } from './b.js';" },
    ];
    expect(upwardImports(planted)).toHaveLength(3);
  });
  it('no `as unknown as` in method registration (the catalogue, core/method.ts, and every defineMethod declaration)', () => {
    const declarations = files.flatMap((f) => {
      const at = f.text.search(/export const \w+ = defineMethod\(/);
      const whole = f.file === path.join('src', 'methods.ts') || f.file === path.join('src', 'core', 'method.ts');
      return whole ? [{ file: f.file, text: f.text }] : at >= 0 ? [{ file: f.file, text: f.text.slice(at) }] : [];
    });
    expect(declarations.length).toBeGreaterThan(25);
    expect(declarations.filter((d) => /as unknown as/.test(d.text)).map((d) => d.file)).toEqual([]);
  });
});
