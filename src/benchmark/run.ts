import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../core/errors.js';
import { findMethod } from '../methods.js';
import type { AttributeOptions, MethodId } from '../core/types.js';
import { groundTruthScores } from '../metrics/ground-truth.js';
import { BENCHMARK_TASKS, type BenchmarkSize, type BenchmarkTask } from './tasks.js';

export const BENCHMARK_SIZES: Readonly<Record<'small' | 'full', BenchmarkSize & { readonly samples: number; readonly steps: number }>> = {
  small: { rows: 12, train: 2000, epochs: 20, samples: 100, steps: 16 },
  full: { rows: 64, train: 4000, epochs: 30, samples: 400, steps: 50 },
};

/** One line of the leaderboard: a method on a task at a noise level, averaged over the test rows. */
export interface LeaderboardRow {
  readonly task: string;
  readonly noise: number;
  readonly method: string;
  readonly auroc: number;
  readonly mass: number;
  readonly precision: number;
  readonly evaluationsPerRow: number;
  readonly msPerRow: number;
  /** The trained model's held-out accuracy (R² for regression). */
  readonly modelQuality: number;
}

export interface BenchmarkOptions {
  readonly size?: 'small' | 'full';
  /** Task ids (default: all). */
  readonly tasks?: readonly string[];
  readonly seed?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (message: string) => void;
}

interface Plan {
  readonly id: MethodId;
  readonly label: string;
  readonly inner?: MethodId;
  readonly options: Record<string, unknown>;
}

/** The methods each task runs, with budgets for the size. */
function plans(task: BenchmarkTask, size: (typeof BENCHMARK_SIZES)['small']): Plan[] {
  const featureMask = task.mask;
  const window = task.kind === 'tabular' ? { window: [1], strides: [1] } : task.kind === 'text' ? { window: [1, 16], strides: [1, 16] } : { window: [2, 2, 1], strides: [2, 2, 1] };
  const list: Plan[] = [
    { id: 'saliency', label: 'saliency', options: {} },
    { id: 'input-x-gradient', label: 'input-x-gradient', options: {} },
    { id: 'integrated-gradients', label: 'integrated-gradients', options: { steps: size.steps } },
    { id: 'noise-tunnel', inner: 'saliency', label: 'smoothgrad', options: { samples: Math.max(4, size.samples / 10), stdevs: 0.15, seed: 1 } },
    { id: 'deeplift', label: 'deeplift', options: {} },
    { id: 'lrp', label: 'lrp', options: {} },
    { id: 'occlusion', label: 'occlusion', options: window },
    { id: 'feature-ablation', label: 'feature-ablation', options: { featureMask } },
    { id: 'kernel-shap', label: 'kernel-shap', options: { featureMask, samples: size.samples, seed: 1 } },
    { id: 'lime', label: 'lime', options: { featureMask, samples: size.samples, seed: 1 } },
  ];
  if (task.kind === 'image') {
    list.push(
      { id: 'rise', label: 'rise', options: { samples: size.samples * 5, gridSize: 4, seed: 1 } },
      { id: 'sobol', label: 'sobol', options: { gridSize: 4, designs: size.samples >= 400 ? 32 : 16, seed: 1 } },
      { id: 'hsic', label: 'hsic', options: { gridSize: 4, designs: size.samples * 2, seed: 1 } },
    );
  }
  list.push({ id: 'random', label: 'random (control)', options: { seed: 1 } });
  return list;
}

/**
 * The ground-truth benchmark: for every task and noise level, trains (or builds) the model, runs every
 * method on the test rows and scores |attribution| against the known relevant elements (AUROC, mass,
 * precision@k). Deterministic for a seed. Returns the leaderboard rows.
 */
export async function runBenchmark(opts: BenchmarkOptions = {}): Promise<LeaderboardRow[]> {
  const sizeName = opts.size ?? 'small';
  const size = BENCHMARK_SIZES[sizeName];
  if (!size) throw new InvalidArgumentError(`Argument 'size' passed to 'runBenchmark' must be 'small' or 'full', got ${String(sizeName)}`, { arg: 'size' });
  const tasks = opts.tasks ? opts.tasks.map((id) => findTask(id)) : BENCHMARK_TASKS;
  const rows: LeaderboardRow[] = [];
  for (const task of tasks) {
    for (const noise of task.noise) {
      opts.onProgress?.(`${task.id} at ${task.noiseLabel} ${noise}: training`);
      const built = await task.build(noise, size, opts.seed ?? 1);
      try {
        for (const plan of plans(task, size)) {
          if (opts.signal?.aborted) throw opts.signal.reason;
          opts.onProgress?.(`${task.id} at ${task.noiseLabel} ${noise}: ${plan.label}`);
          const method = findMethod(plan.id).create(built.model, plan.inner ? { inner: plan.inner } : {});
          const t0 = performance.now();
          const attr = await method.attribute(built.x, { target: built.target, ...(opts.signal ? { signal: opts.signal } : {}), ...plan.options } as AttributeOptions);
          const ms = performance.now() - t0;
          try {
            const scored = built.unit ? tf.tidy(() => tf.sum(tf.reshape(attr.values, [built.x.shape[0]!, -1, built.unit!]), -1)) : attr.values;
            const s = await groundTruthScores(scored, built.relevant);
            if (scored !== attr.values) scored.dispose();
            const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
            const n = built.x.shape[0]!;
            rows.push({
              task: task.id,
              noise,
              method: plan.label,
              auroc: mean(s.auroc),
              mass: mean(s.mass),
              precision: mean(s.precisionAtK),
              evaluationsPerRow: attr.diagnostics.evaluations / n,
              msPerRow: ms / n,
              modelQuality: built.quality,
            });
          } finally {
            attr.dispose();
          }
        }
      } finally {
        built.x.dispose();
        built.model.dispose();
      }
    }
  }
  return rows;
}

function findTask(id: string): BenchmarkTask {
  const t = BENCHMARK_TASKS.find((k) => k.id === id);
  if (!t) throw new InvalidArgumentError(`Unknown benchmark task '${id}'; tasks: ${BENCHMARK_TASKS.map((k) => k.id).join(', ')}`, { arg: 'tasks', value: id });
  return t;
}

/** The leaderboard as Markdown: per task, AUROC (and mass) per method and noise level; then the overall ranking by mean AUROC. */
export function leaderboardMarkdown(rows: readonly LeaderboardRow[], command: string): string {
  const out: string[] = ['# Ground-truth benchmark: which attribution finds the features that matter', '', `Regenerate with \`${command}\`. Scores are means over the test rows of each task; AUROC of |attribution| as a detector of the relevant elements (0.5 = chance), mass = share of Σ|attribution| on them.`, ''];
  const overall = new Map<string, number[]>();
  for (const task of BENCHMARK_TASKS) {
    const tr = rows.filter((r) => r.task === task.id);
    if (tr.length === 0) continue;
    const noises = [...new Set(tr.map((r) => r.noise))];
    const methods = [...new Set(tr.map((r) => r.method))];
    out.push(`## ${task.id}`, '', task.description + '.', '');
    out.push(`Model quality (${task.kind === 'tabular' ? 'R²' : 'accuracy'}) per ${task.noiseLabel}: ${noises.map((nz) => `${nz}: ${tr.find((r) => r.noise === nz)!.modelQuality.toFixed(3)}`).join(', ')}.`, '');
    out.push(`| method | ${noises.map((nz) => `AUROC @ ${nz}`).join(' | ')} | ${noises.map((nz) => `mass @ ${nz}`).join(' | ')} | evaluations/row |`);
    out.push(`|---|${noises.map(() => '---:').join('|')}|${noises.map(() => '---:').join('|')}|---:|`);
    const ranked = methods.sort((a, b) => avg(tr.filter((r) => r.method === b).map((r) => r.auroc)) - avg(tr.filter((r) => r.method === a).map((r) => r.auroc)));
    for (const m of ranked) {
      const mr = noises.map((nz) => tr.find((r) => r.method === m && r.noise === nz));
      out.push(`| ${m} | ${mr.map((r) => (r ? r.auroc.toFixed(3) : '—')).join(' | ')} | ${mr.map((r) => (r ? `${(100 * r.mass).toFixed(0)}%` : '—')).join(' | ')} | ${Math.round(mr[0]?.evaluationsPerRow ?? 0)} |`);
      for (const r of mr) if (r) overall.set(m, [...(overall.get(m) ?? []), r.auroc]);
    }
    out.push('', `![${task.id}](${task.id}.svg)`, '');
  }
  out.push('## Overall', '', '| method | mean AUROC over tasks and noise levels | settings |', '|---|---:|---:|');
  for (const [m, v] of [...overall].sort((a, b) => avg(b[1]) - avg(a[1]))) out.push(`| ${m} | ${avg(v).toFixed(3)} | ${v.length} |`);
  return out.join('\n') + '\n';
}

/** A grouped bar chart (SVG) of AUROC per method, one bar per noise level, for one task. */
export function leaderboardSvg(rows: readonly LeaderboardRow[], task: string): string {
  const tr = rows.filter((r) => r.task === task);
  const noises = [...new Set(tr.map((r) => r.noise))];
  const methods = [...new Set(tr.map((r) => r.method))];
  const colours = ['#1b6ca8', '#e07b39', '#3a9d5d', '#9b59b6'];
  const rowH = 8 * noises.length + 8;
  const [left, width] = [150, 420];
  const height = 40 + methods.length * rowH;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 20}" height="${height}" font-family="sans-serif" font-size="11">`];
  parts.push(`<text x="${left}" y="14">${escape(task)}: AUROC (0.5 = chance) by ${noises.map((nz, k) => `<tspan fill="${colours[k % 4]}">${nz}</tspan>`).join(' / ')}</text>`);
  for (const x of [0.5, 1]) parts.push(`<line x1="${left + x * width}" y1="22" x2="${left + x * width}" y2="${height - 6}" stroke="#999" stroke-dasharray="3,3"/>`);
  methods.forEach((m, i) => {
    const y0 = 26 + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y0 + rowH / 2}" text-anchor="end">${escape(m)}</text>`);
    noises.forEach((nz, k) => {
      const r = tr.find((q) => q.method === m && q.noise === nz);
      if (r) parts.push(`<rect x="${left}" y="${y0 + k * 8}" width="${(Math.max(0, r.auroc) * width).toFixed(1)}" height="7" fill="${colours[k % 4]}"/>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

const avg = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Re-export for callers that want the task list. */
export { BENCHMARK_TASKS };
