// The demo's induction transformer: activation patching finds its layer-1 heads, AtP* their saturated
// keys that plain AtP misses; components.html is written.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { removeTempDirs, tempDir } from '../../../test/reference.js';
import { PACKAGE_ROOT } from './demo.js';
import { componentsDemo } from './demo-components.js';

beforeAll(() => useBackend('cpu'));
afterAll(removeTempDirs);

describe('the demo induction model', () => {
  it('activation patching: the layer-1 heads on top; AtP* ranks their keys first, which plain AtP misses (saturated attention)', async () => {
    const dir = tempDir();
    const { rows, file } = await componentsDemo(PACKAGE_ROOT, dir, new AbortController().signal);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toMatch(/hook_k: layer × head/);
    const [patching, atp, star] = rows;
    expect(rows.map((r) => r.method)).toEqual(['activation patching', 'AtP', 'AtP*']);
    expect(patching!.evaluations).toBe(4 * 2 * 2 + 2);
    for (const top of patching!.top.split(', ')) expect(top).toMatch(/^L1H\d [zkv]$/);
    expect(star!.top).toMatch(/^L1H\d k, L1H\d k/);
    expect(atp!.top).not.toMatch(/L1H\d k/);
  });
});
