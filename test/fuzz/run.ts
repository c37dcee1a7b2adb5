// The fuzz loop: case i of a target is a mutant drawn from its own Rng (seeded from the run's seed,
// the target's name and i), so any failing case is rebuilt alone by `mutantOf`.
import path from 'node:path';
import { rmSync } from 'node:fs';
import { AttributionError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/random.js';
import { mutate } from './mutate.js';
import { scratchDir, type FuzzTarget, type Seed } from './targets.js';

export interface FuzzFailure {
  readonly target: string;
  readonly caseIndex: number;
  /** What went wrong: the untyped error's name and message, or the time a too-slow case took. */
  readonly what: string;
}

export interface FuzzReport {
  readonly target: string;
  readonly cases: number;
  readonly successes: number;
  readonly typedErrors: number;
  readonly failures: FuzzFailure[];
  /** Slowest case, ms. */
  readonly maxMs: number;
  /** Peak resident set size seen after any case, bytes (the whole process). */
  readonly peakRss: number;
  /** Error codes of the typed errors, with counts. */
  readonly codes: Readonly<Record<string, number>>;
}

/** Per-case time allowed per MB of input, on top of `FuzzTarget.maxMs`. */
const MS_PER_MB = 500;

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Case `i` of `target` in the run seeded `seed`: the seed files with one of them mutated. */
export function mutantOf(target: FuzzTarget, seeds: readonly Seed[], seed: number, i: number): Seed {
  const rng = new Rng((hash(`${target.name}:${seed}:${i}`) ^ Math.imul(i, 0x9e3779b1)) >>> 0);
  const base = seeds[Math.floor(rng.next() * seeds.length)]!;
  const names = Object.keys(base);
  const victim = names[Math.floor(rng.next() * names.length)]!;
  return { ...base, [victim]: mutate(rng, base[victim]!, target.json.has(victim)) };
}

/**
 * Runs cases [from, from + count) of `target`. Every case must return or throw an AttributionError
 * within `target.maxMs`; anything else is a failure. A synchronous endless loop would stall the
 * run itself: the caller's timeout (vitest's, or the script's watchdog) catches that.
 */
export async function fuzzTarget(target: FuzzTarget, opts: { seed: number; count?: number; from?: number; onCase?: (caseIndex: number) => void }): Promise<FuzzReport> {
  const seeds = target.seeds();
  const count = opts.count ?? target.cases;
  const from = opts.from ?? 0;
  const dir = scratchDir();
  const caseDir = path.join(dir, 'case');
  const failures: FuzzFailure[] = [];
  const codes: Record<string, number> = {};
  let [successes, typedErrors, maxMs, peakRss] = [0, 0, 0, process.memoryUsage().rss];
  try {
    for (let i = from; i < from + count; i++) {
      opts.onCase?.(i);
      const files = mutantOf(target, seeds, opts.seed, i);
      const t0 = performance.now();
      try {
        await target.run(files, caseDir);
        successes++;
      } catch (e) {
        if (e instanceof AttributionError) {
          typedErrors++;
          codes[e.code] = (codes[e.code] ?? 0) + 1;
        } else failures.push({ target: target.name, caseIndex: i, what: e instanceof Error ? `${e.name}: ${e.message.slice(0, 200)}` : `non-error thrown: ${String(e).slice(0, 200)}` });
      }
      const ms = performance.now() - t0;
      maxMs = Math.max(maxMs, ms);
      // the bound grows with the mutant's size (JSON.parse alone takes ~0.1 s per deeply nested MB)
      const bound = target.maxMs + (MS_PER_MB * Object.values(files).reduce((n, f) => n + f.length, 0)) / 2 ** 20;
      if (ms > bound) failures.push({ target: target.name, caseIndex: i, what: `took ${ms.toFixed(0)} ms (bound ${bound.toFixed(0)} ms)` });
      if ((i & 15) === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return { target: target.name, cases: count, successes, typedErrors, failures, maxMs, peakRss, codes };
}
