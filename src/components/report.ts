// A one-page HTML report of a component attribution: a layer × head heat map per hook and the top nodes.
import type { NodeAttribution } from './node-attribution.js';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Red for positive, blue for negative, white at 0, scaled by `max` |score|. */
function color(v: number, max: number): string {
  const t = max > 0 ? Math.min(1, Math.abs(v) / max) : 0;
  const c = Math.round(255 * (1 - t));
  return v >= 0 ? `rgb(255,${c},${c})` : `rgb(${c},${c},255)`;
}

/** The report page: per attention hook a layer × head grid (scores summed over positions), then the top `top` nodes by |score|, then `appendix` (an HTML fragment, e.g. `diagnosticReportHtml`). */
export function componentReportHtml(result: NodeAttribution, title: string, top = 20, appendix = ''): string {
  const max = Math.max(...result.nodes.map((n) => Math.abs(n.score)), 0);
  const grids: string[] = [];
  for (const hook of ['z', 'q', 'k', 'v']) {
    const cells = new Map<string, number>();
    for (const n of result.nodes) if (n.hook.endsWith(`attn.hook_${hook}`) && n.head !== null) cells.set(`${n.layer},${n.head}`, (cells.get(`${n.layer},${n.head}`) ?? 0) + n.score);
    if (cells.size === 0) continue;
    const layers = Math.max(...[...cells.keys()].map((k) => Number(k.split(',')[0]))) + 1;
    const heads = Math.max(...[...cells.keys()].map((k) => Number(k.split(',')[1]))) + 1;
    const rows = Array.from({ length: layers }, (_, l) => `<tr><th>layer ${l}</th>${Array.from({ length: heads }, (_, h) => {
      const v = cells.get(`${l},${h}`) ?? 0;
      return `<td style="background:${color(v, max)}">${v.toFixed(3)}</td>`;
    }).join('')}</tr>`);
    grids.push(`<h2>hook_${hook}: layer × head</h2><table><tr><th></th>${Array.from({ length: heads }, (_, h) => `<th>head ${h}</th>`).join('')}</tr>${rows.join('')}</table>`);
  }
  const best = [...result.nodes].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).slice(0, top);
  const list = best.map((n) => `<tr><td>${esc(n.hook)}</td><td>${n.layer ?? ''}</td><td>${n.head ?? ''}</td><td>${n.position ?? 'all'}</td><td style="background:${color(n.score, max)}">${n.score.toFixed(4)}</td></tr>`).join('');
  const metric = `M clean = ${result.metric.clean.toFixed(4)}${result.metric.corrupt === undefined ? '' : `, corrupt = ${result.metric.corrupt.toFixed(4)}`}`;
  return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><style>body{font:14px sans-serif;margin:2em}td,th{padding:4px 8px;border:1px solid #ddd;text-align:right}</style>
<h1>${esc(title)}</h1><p>${esc(result.method)}: ${esc(metric)}</p>${grids.join('')}
<h2>top ${best.length} nodes by |score|</h2><table><tr><th>hook</th><th>layer</th><th>head</th><th>position</th><th>score</th></tr>${list}</table>${appendix}`;
}
