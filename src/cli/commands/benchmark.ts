import path from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { BENCHMARK_TASKS, leaderboardMarkdown, leaderboardSvg, runBenchmark } from '../../benchmark/run.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { checkOut, writeAtomically } from '../outputs.js';

/** Flags of `attrib benchmark`. */
export const BENCHMARK_FLAGS: readonly FlagSpec[] = [
  { name: 'size', type: 'string', help: 'small (CI) or full', default: 'small', values: ['small', 'full'] },
  { name: 'tasks', type: 'string', help: `comma-separated: ${BENCHMARK_TASKS.map((t) => t.id).join(', ')}` },
  { name: 'out', type: 'string', help: 'directory for leaderboard.json, leaderboard.md and the charts', default: 'benchmark-output' },
  { name: 'seed', type: 'int', help: 'data and training seed', default: 1 },
  { name: 'backend', type: 'string', help: 'TF.js backend: wasm or cpu', default: 'wasm' },
  { name: 'quiet', type: 'bool', help: 'no progress lines' },
];

/** `attrib benchmark [--size small|full] [--tasks a,b] [--out DIR] [--seed N]`: the ground-truth benchmark; writes the leaderboard (JSON, Markdown, SVG charts). */
export async function benchmarkCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<{ stdout: string; files: string[] }> {
  const flags = parseFlags(raw, BENCHMARK_FLAGS, 'benchmark');
  const size = (flags.get('size') as string | undefined) ?? 'small';
  if (size !== 'small' && size !== 'full') throw new InvalidArgumentError(`Option '--size' must be small or full, got '${size}'`, { arg: 'size', value: size });
  const tasks = typeof flags.get('tasks') === 'string' ? (flags.get('tasks') as string).split(',').map((t) => t.trim()) : undefined;
  const quiet = flags.get('quiet') === true;
  await checkOut((flags.get('out') as string | undefined) ?? 'benchmark-output');
  const rows = await runBenchmark({
    size,
    ...(tasks ? { tasks } : {}),
    seed: (flags.get('seed') as number | undefined) ?? 1,
    signal,
    ...(quiet ? {} : { onProgress: (m: string) => process.stderr.write(`attrib benchmark: ${m}\n`) }),
  });
  const out = (flags.get('out') as string | undefined) ?? 'benchmark-output';
  const command = `attrib benchmark --size ${size}${tasks ? ` --tasks ${tasks.join(',')}` : ''} --out ${out}` + (size === 'full' ? ' (npm run benchmark:full)' : '');
  const files = new Map<string, string>([
    ['leaderboard.json', JSON.stringify({ size, rows }, null, 2)],
    ['leaderboard.md', leaderboardMarkdown(rows, command)],
  ]);
  for (const task of new Set(rows.map((r) => r.task))) files.set(`${task}.svg`, leaderboardSvg(rows, task));
  await writeAtomically(files, out);
  return { stdout: leaderboardMarkdown(rows, command), files: [...files.keys()].map((f) => path.join(out, f)) };
}
