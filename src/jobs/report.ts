import { JOB_METRICS, type JobMetric } from './metrics.js';
import { metricColumn, type ResultStore } from './store.js';
import type { JobSettings } from './settings.js';

/** Distribution of one metric over the inputs that have it. */
export interface MetricSummary {
  readonly metric: string;
  readonly higherIsBetter: boolean;
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
  /** The inputs with the worst values, worst first. */
  readonly worst: readonly { readonly inputId: string; readonly target: number | null; readonly value: number }[];
}

/** What a store holds: its job, how far it got, and the metrics over the dataset. */
export interface StoreReport {
  readonly settings: JobSettings;
  /** Work items of the job (inputs × targets, or the inputs' own targets). */
  readonly rows: number;
  readonly ok: number;
  readonly failed: number;
  readonly meanElapsedMs: number;
  readonly metrics: readonly MetricSummary[];
  /** Output indices attributed, with how many inputs each. */
  readonly targets: readonly { readonly target: number | null; readonly count: number }[];
  /** The first failures (input and error). */
  readonly errors: readonly { readonly inputId: string; readonly error: string }[];
}

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/**
 * Summarises a store: counts, per-metric distributions (mean, std, quantiles) and the `worst` inputs
 * of each metric (by its direction: lowest insertion, highest deletion …), the targets, the failures.
 */
export async function storeReport(store: ResultStore, worst = 5): Promise<StoreReport> {
  const counts = (await store.query("SELECT count(*) AS n, count(*) FILTER (WHERE status = 'ok') AS ok, coalesce(avg(elapsed_ms), 0) AS t FROM results")).rows[0]!;
  const metrics: MetricSummary[] = [];
  for (const m of store.settings.metrics) {
    const c = `"${metricColumn(m)}"`;
    const higher = JOB_METRICS[m as JobMetric] ?? true;
    const s = (await store.query(`SELECT count(${c}) AS n, avg(${c}) AS mean, coalesce(stddev_samp(${c}), 0) AS std, min(${c}) AS min, quantile_cont(${c}, 0.1) AS p10, median(${c}) AS median, quantile_cont(${c}, 0.9) AS p90, max(${c}) AS max FROM results WHERE status = 'ok'`)).rows[0]!;
    const w = await store.query(`SELECT input_id, target, ${c} AS v FROM results WHERE ${c} IS NOT NULL ORDER BY ${c} ${higher ? 'ASC' : 'DESC'}, seq LIMIT ${Math.max(0, Math.floor(worst))}`);
    metrics.push({
      metric: m,
      higherIsBetter: higher,
      count: num(s['n']),
      mean: num(s['mean']),
      std: num(s['std']),
      min: num(s['min']),
      p10: num(s['p10']),
      median: num(s['median']),
      p90: num(s['p90']),
      max: num(s['max']),
      worst: w.rows.map((r) => ({ inputId: String(r['input_id']), target: r['target'] === null ? null : num(r['target']), value: num(r['v']) })),
    });
  }
  const targets = (await store.query("SELECT target, count(*) AS n FROM results WHERE status = 'ok' GROUP BY target ORDER BY n DESC, target LIMIT 20")).rows.map((r) => ({ target: r['target'] === null ? null : num(r['target']), count: num(r['n']) }));
  const errors = (await store.query("SELECT input_id, error FROM results WHERE status = 'error' ORDER BY seq LIMIT 10")).rows.map((r) => ({ inputId: String(r['input_id']), error: String(r['error']) }));
  const rows = num(counts['n']);
  const ok = num(counts['ok']);
  return { settings: store.settings, rows, ok, failed: rows - ok, meanElapsedMs: num(counts['t']), metrics, targets, errors };
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toPrecision(4) : '—');

/** The report as text: the job, its progress, one line per metric's distribution and its worst inputs. */
export function renderStoreReport(r: StoreReport): string {
  const s = r.settings;
  const per = s.targets.length;
  const lines = [
    `store: ${s.method} on ${s.model}, inputs ${s.inputs} (${s.inputCount} inputs × ${per} target${per === 1 ? '' : 's'}: ${s.targets.join(', ')})`,
    `rows: ${r.rows} (${r.ok} ok, ${r.failed} failed), mean time per row ${r.meanElapsedMs.toFixed(1)} ms`,
    `targets: ${r.targets.map((t) => `${t.target ?? '—'} ×${t.count}`).join(', ') || '—'}`,
  ];
  if (r.metrics.length > 0) {
    lines.push('', `${'metric'.padEnd(22)}${['n', 'mean', 'std', 'min', 'p10', 'median', 'p90', 'max'].map((h) => h.padStart(11)).join('')}`);
    for (const m of r.metrics) lines.push(`${`${m.metric} (${m.higherIsBetter ? '↑' : '↓'})`.padEnd(22)}${String(m.count).padStart(11)}${[m.mean, m.std, m.min, m.p10, m.median, m.p90, m.max].map((v) => fmt(v).padStart(11)).join('')}`);
    for (const m of r.metrics) {
      if (m.worst.length === 0) continue;
      lines.push('', `worst inputs by ${m.metric} (${m.higherIsBetter ? 'lowest' : 'highest'} first):`);
      for (const w of m.worst) lines.push(`  ${fmt(w.value).padStart(11)}  ${w.inputId}${w.target === null ? '' : ` (target ${w.target})`}`);
    }
  }
  if (r.errors.length > 0) {
    lines.push('', 'failures:');
    for (const e of r.errors) lines.push(`  ${e.inputId}: ${e.error}`);
  }
  return lines.join('\n');
}
