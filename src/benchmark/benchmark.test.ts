import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { removeTempDirs, ROOT, tempDir } from '../../test/reference.js';
import { leaderboardMarkdown, leaderboardSvg, runBenchmark } from './run.js';

beforeAll(() => useBackend('wasm'));
afterAll(removeTempDirs);

describe('ground-truth benchmark', () => {
  it('runs every task at the small size: DiFull is solved by construction-aware methods, random sits at chance', async () => {
    const rows = await runBenchmark({ size: 'small', seed: 1 });
    const get = (task: string, method: string, noise = rows.find((r) => r.task === task)!.noise) => rows.find((r) => r.task === task && r.method === method && r.noise === noise)!;
    expect(new Set(rows.map((r) => r.task))).toEqual(new Set(['tabular-symbolic', 'image-region', 'text-triggers', 'difull-grid']));
    // DiFull: gradients cannot leak outside the cell that feeds the output
    for (const m of ['saliency', 'integrated-gradients', 'occlusion', 'feature-ablation']) expect(get('difull-grid', m).auroc).toBeCloseTo(1, 6);
    for (const task of ['tabular-symbolic', 'image-region', 'text-triggers', 'difull-grid']) {
      const random = get(task, 'random (control)');
      expect(Math.abs(random.auroc - 0.5)).toBeLessThan(0.1);
      expect(get(task, 'feature-ablation').auroc).toBeGreaterThan(random.auroc + 0.2);
    }
    // the trained models learned their tasks (low noise)
    expect(get('image-region', 'saliency').modelQuality).toBeGreaterThan(0.9);
    expect(get('tabular-symbolic', 'saliency').modelQuality).toBeGreaterThan(0.5);
    const md = leaderboardMarkdown(rows, 'attrib benchmark --size small');
    expect(md).toContain('## difull-grid');
    expect(md).toContain('## Overall');
    expect(leaderboardSvg(rows, 'image-region')).toMatch(/^<svg[\s\S]*<\/svg>$/);
  });

  it('is deterministic for a seed and reachable from the CLI (files written, bad size refused)', async () => {
    const a = await runBenchmark({ size: 'small', tasks: ['image-region'], seed: 3 });
    const b = await runBenchmark({ size: 'small', tasks: ['image-region'], seed: 3 });
    expect(a.map((r) => r.auroc)).toEqual(b.map((r) => r.auroc));
    const out = tempDir('attrib-bench-');
    const run = promisify(execFile);
    await run(process.execPath, [path.join(ROOT, 'bin', 'attrib.js'), 'benchmark', '--tasks', 'difull-grid', '--out', out, '--quiet'], { cwd: ROOT });
    for (const f of ['leaderboard.json', 'leaderboard.md', 'difull-grid.svg']) expect(existsSync(path.join(out, f))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, 'leaderboard.json'), 'utf8')).rows.length).toBeGreaterThan(5);
    await expect(run(process.execPath, [path.join(ROOT, 'bin', 'attrib.js'), 'benchmark', '--size', 'huge'], { cwd: ROOT })).rejects.toMatchObject({ code: 2 });
    await expect(runBenchmark({ tasks: ['nope'] })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
