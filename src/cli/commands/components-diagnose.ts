// `attrib components --method atp-star --diagnose`: AtP*'s diagnostic of remaining false negatives,
// run on the AtP* scores just computed, added to the output as `diagnostic`.
import { atpStarDiagnostic, diagnosticJson, DIAGNOSTIC_DEFAULTS, type AtpStarDiagnostic } from '../../components/atp-star-diagnostic.js';
import { confidencePercent, diagnosticReportHtml } from '../../components/diagnostic-report.js';
import type { NodeAttribution } from '../../components/node-attribution.js';
import { nodeId, type ComponentOptions } from '../../components/nodes.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { HookedTransformer } from '../../models/transformer/hooked-transformer.js';
import type { FlagSpec, FlagValue } from '../args.js';
import { ProgressBar } from '../progress.js';

/** The flags of the diagnostic (with `--method atp-star` only). */
export const DIAGNOSE_FLAGS: readonly FlagSpec[] = [
  { name: 'diagnose', type: 'bool', help: 'atp-star: bound the remaining false negatives (verify the top K, subset-sample the rest); adds "diagnostic" to the JSON' },
  { name: 'verify', type: 'int', help: 'with --diagnose: K, nodes verified by activation patching (default 10 % of the nodes, at least 1)', min: 0 },
  { name: 'samples', type: 'int', help: 'with --diagnose: random subsets of the unverified nodes', default: DIAGNOSTIC_DEFAULTS.samples, min: 2 },
  { name: 'inclusion-probability', type: 'number', help: 'with --diagnose: probability p of each unverified node being in a subset', default: DIAGNOSTIC_DEFAULTS.inclusionProbability },
  { name: 'alpha', type: 'number', help: 'with --diagnose: family-wise level of the bounds (Bonferroni)', default: DIAGNOSTIC_DEFAULTS.alpha },
  { name: 'correction', type: 'string', help: 'with --diagnose: bonferroni (every bound holds at once) or none (θ* alone holds; tighter)', values: ['bonferroni', 'none'], default: 'bonferroni' },
  { name: 'threshold', type: 'number', help: 'with --diagnose: flag unverified nodes whose bound exceeds it (default: the smallest verified |effect|)', min: 0 },
  { name: 'seed', type: 'int', help: 'with --diagnose: seed of the subsets', default: 0 },
];

/** Refuses diagnostic flags without `--diagnose`, and `--diagnose` with a method other than atp-star. */
export function checkDiagnoseFlags(flags: ReadonlyMap<string, FlagValue>, method: string): boolean {
  const diagnose = flags.get('diagnose') === true;
  if (diagnose && method !== 'atp-star') throw new InvalidArgumentError(`Option '--diagnose' of 'attrib components' goes with '--method atp-star', got '--method ${method}'`, { arg: 'diagnose', method });
  const stray = DIAGNOSE_FLAGS.find((f) => f.name !== 'diagnose' && flags.has(f.name));
  if (!diagnose && stray) throw new InvalidArgumentError(`Option '--${stray.name}' of 'attrib components' needs '--diagnose'`, { arg: stray.name });
  return diagnose;
}

/** Runs the diagnostic on `star`'s scores; returns its JSON, the summary lines and the report section. */
export async function runDiagnose(model: HookedTransformer, star: NodeAttribution, base: ComponentOptions, flags: ReadonlyMap<string, FlagValue>, quiet: boolean): Promise<{ json: Record<string, unknown>; summary: string[]; html: string }> {
  const bar = new ProgressBar('components atp-star diagnostic', !quiet);
  const num = (name: string) => flags.get(name) as number | undefined;
  const pick = <K extends string>(key: K, name: string) => (num(name) === undefined ? {} : ({ [key]: num(name) } as Record<K, number>));
  const d: AtpStarDiagnostic = await atpStarDiagnostic(model, {
    ...base,
    onProgress: bar.update,
    scores: star.nodes,
    ...pick('verify', 'verify'),
    ...pick('samples', 'samples'),
    ...pick('inclusionProbability', 'inclusion-probability'),
    ...pick('alpha', 'alpha'),
    ...pick('threshold', 'threshold'),
    ...pick('seed', 'seed'),
    ...(flags.has('correction') ? { correction: flags.get('correction') as 'bonferroni' | 'none' } : {}),
  }).finally(() => bar.done());
  const summary = [
    `diagnostic: ${d.verify} verified, ${d.unverified.length} bounded from ${d.samples} subsets (p = ${d.inclusionProbability}): with confidence ${confidencePercent(d.alpha)}, no unverified node has |effect| ≥ θ* = ${d.thetaStar.toFixed(4)} (up to the subset estimate's interaction bias)`,
    d.flagged.length === 0 ? `  no unverified node's bound exceeds ${d.threshold === null ? '(no threshold)' : d.threshold.toFixed(4)}` : `  ${d.flagged.length} unverified node(s) may exceed ${d.threshold!.toFixed(4)}; verify next: ${d.flagged.slice(0, 5).map((u) => `${nodeId(u)} (estimate ${u.estimate.toFixed(3)}, bound ${u.upperBound.toFixed(3)})`).join(', ')}`,
  ];
  return { json: diagnosticJson(d), summary, html: diagnosticReportHtml(d) };
}
