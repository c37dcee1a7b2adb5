// The AtP* diagnostic as a section of the component report page: θ*, the verified nodes, and the
// unverified nodes with the largest bounds (the flagged ones marked).
import type { AtpStarDiagnostic } from './atp-star-diagnostic.js';
import { nodeId } from './nodes.js';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const num = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : '∞');

/** An HTML fragment (to append to `componentReportHtml`): θ*, the verified nodes, the `top` unverified nodes by bound. */
/** 1 − α as a percentage without float noise (α = 0.07 → '93 %'). */
export const confidencePercent = (alpha: number): string => `${Number(((1 - alpha) * 100).toPrecision(6))} %`;

export function diagnosticReportHtml(d: AtpStarDiagnostic, top = 15): string {
  const flagged = new Set(d.flagged);
  const verified = d.verified.map((v) => `<tr><td>${esc(nodeId(v))}</td><td>${num(v.rankScore)}</td><td>${num(v.score)}</td></tr>`).join('');
  const byBound = [...d.unverified].sort((a, b) => b.upperBound - a.upperBound).slice(0, top);
  const rows = byBound.map((u) => `<tr${flagged.has(u) ? ' style="background:#fee"' : ''}><td>${esc(nodeId(u))}</td><td>${num(u.rankScore)}</td><td>${num(u.estimate)}</td><td>${num(u.standardError)}</td><td>${num(u.upperBound)}</td><td>${flagged.has(u) ? 'verify next' : ''}</td></tr>`).join('');
  const threshold = d.threshold === null ? 'no threshold (K = 0)' : `threshold ${num(d.threshold)}${d.flagged.length ? `: ${d.flagged.length} node(s) above it (shaded)` : ': none above it'}`;
  return `<h2>Remaining false negatives (AtP* diagnostic)</h2>
<p>${d.verify} nodes verified by activation patching; ${d.unverified.length} bounded from ${d.samples} random subsets (p = ${d.inclusionProbability}, seed ${d.seed}). With confidence ${confidencePercent(d.alpha)}${d.correction === 'bonferroni' ? ' (Bonferroni over the unverified nodes)' : ' (θ* alone; the per-node bounds uncorrected)'}, no unverified node has |effect| ≥ θ* = <b>${num(d.thetaStar)}</b>, up to the subset estimator's interaction bias; ${esc(threshold)}.</p>
<table><tr><th>verified node</th><th>rank score</th><th>exact effect</th></tr>${verified}</table>
<h3>unverified nodes with the largest bounds</h3>
<table><tr><th>node</th><th>rank score</th><th>estimate</th><th>std. error</th><th>upper bound</th><th></th></tr>${rows}</table>`;
}
