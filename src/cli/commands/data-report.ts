// The outputs of `attrib data` beyond scores.npy: top proponents and opponents per test example
// (result.json), and an HTML page with each test example beside them (tabular inputs).
import type { Examples } from '../../data/loss.js';

export interface RankedExample {
  readonly train: number;
  readonly score: number;
}

/** Per test example: the `top` training examples with the largest scores (proponents) and the smallest (opponents). */
export function topScores(scores: Float32Array, m: number, n: number, top: number): { test: number; proponents: RankedExample[]; opponents: RankedExample[] }[] {
  const k = Math.min(top, n);
  return Array.from({ length: m }, (_, i) => {
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => scores[i * n + b]! - scores[i * n + a]!);
    const pick = (js: number[]) => js.map((j) => ({ train: j, score: scores[i * n + j]! }));
    return { test: i, proponents: pick(order.slice(0, k)), opponents: pick(order.slice(-k).reverse()) };
  });
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(3));

/**
 * A self-contained page: for the first test examples (at most 50), a table of the example's target
 * and features beside its top proponents and opponents with their scores (at most 24 features shown).
 */
export function dataReportHtml(method: string, scores: Float32Array, m: number, n: number, top: number, train: Examples, test: Examples): string {
  const rowSize = (set: Examples) => set.x.data.length / Math.max(1, set.x.shape[0]!);
  const d = Math.min(24, rowSize(test));
  const features = (set: Examples, i: number) => Array.from({ length: d }, (_, k) => `<td>${fmt(set.x.data[i * rowSize(set) + k]!)}</td>`).join('');
  const target = (set: Examples, i: number) => {
    const per = set.y.data.length / Math.max(1, set.y.shape[0]!);
    return Array.from({ length: per }, (_, k) => fmt(set.y.data[i * per + k]!)).join(', ');
  };
  const ranked = topScores(scores, Math.min(m, 50), n, top);
  const head = `<tr><th>example</th><th>score</th><th>target</th>${Array.from({ length: d }, (_, k) => `<th>x${k}</th>`).join('')}</tr>`;
  const sections = ranked.map((r) => {
    const rows = [
      `<tr class="test"><td>test ${r.test}</td><td></td><td>${esc(target(test, r.test))}</td>${features(test, r.test)}</tr>`,
      ...r.proponents.map((p) => `<tr class="pro"><td>train ${p.train}</td><td>${fmt(p.score)}</td><td>${esc(target(train, p.train))}</td>${features(train, p.train)}</tr>`),
      ...r.opponents.map((p) => `<tr class="opp"><td>train ${p.train}</td><td>${fmt(p.score)}</td><td>${esc(target(train, p.train))}</td>${features(train, p.train)}</tr>`),
    ];
    return `<h2>test example ${r.test}</h2><table>${head}${rows.join('')}</table>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>attrib data: ${esc(method)}</title><style>
body{font:13px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
tr.test{background:#eef}tr.pro{background:#efe}tr.opp{background:#fee}</style></head><body>
<h1>${esc(method)}: test examples beside their top ${top} proponents (green) and opponents (red)</h1>
<p>score[i, j] &gt; 0: removing training example j is predicted to raise test example i's loss. ${m} test × ${n} training examples${m > 50 ? '; the first 50 test examples shown' : ''}.</p>
${sections.join('\n')}</body></html>
`;
}
