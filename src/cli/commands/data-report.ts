// The outputs of `attrib data` beyond scores.npy: top proponents and opponents per test example
// (result.json), and an HTML page with each test example beside them (images drawn, tabular rows listed).
import type { Examples } from '../../data/loss.js';
import { encodePng } from '../../io/image.js';

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

/** How a row of an image input is laid out: [H, W], [C, H, W] or [H, W, C] with C = 1 or 3 and sides ≥ 4; undefined for other rows. */
export function imageLayout(rowShape: readonly number[]): { height: number; width: number; channels: 1 | 3; chw: boolean } | undefined {
  const side = (v: number | undefined) => v !== undefined && v >= 4;
  const ch = (v: number | undefined): v is 1 | 3 => v === 1 || v === 3;
  const [a, b, c] = rowShape;
  if (rowShape.length === 2 && side(a) && side(b)) return { height: a!, width: b!, channels: 1, chw: true };
  if (rowShape.length !== 3) return undefined;
  if (ch(a) && side(b) && side(c)) return { height: b!, width: c!, channels: a, chw: true };
  if (ch(c) && side(a) && side(b)) return { height: a!, width: b!, channels: c, chw: false };
  return undefined;
}

/** Row i of an image set as a PNG data URL, each example scaled to its own min–max range. */
function imageUrl(set: Examples, i: number, g: NonNullable<ReturnType<typeof imageLayout>>): string {
  const size = g.height * g.width * g.channels;
  const px = Float64Array.from({ length: size }, (_, k) => Number(set.x.data[i * size + k]));
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of px) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const rgba = new Uint8Array(g.height * g.width * 4);
  for (let q = 0; q < g.height * g.width; q++) {
    for (let c = 0; c < 3; c++) {
      const k = g.channels === 1 ? 0 : c;
      const v = px[g.chw ? k * g.height * g.width + q : q * g.channels + k]!;
      rgba[q * 4 + c] = hi > lo ? Math.round((255 * (v - lo)) / (hi - lo)) : 128;
    }
    rgba[q * 4 + 3] = 255;
  }
  return `data:image/png;base64,${Buffer.from(encodePng(rgba, g.width, g.height)).toString('base64')}`;
}

/**
 * A self-contained page: for the first test examples (at most 50), the test example beside its top
 * proponents and opponents with their scores and targets. Images ({@link imageLayout}) are drawn, at
 * most 10 proponents and opponents each; other rows are listed as a table of the example's target
 * and features beside its top proponents and opponents with their scores (at most 24 features shown).
 * `train` may hold only the training rows shown: `trainRow(j)` is where training example j is in it.
 */
export function dataReportHtml(method: string, scores: Float32Array, m: number, n: number, top: number, train: Examples, test: Examples, trainRow: (j: number) => number = (j) => j): string {
  const rowSize = (set: Examples) => set.x.data.length / Math.max(1, set.x.shape[0]!);
  const d = Math.min(24, rowSize(test));
  const features = (set: Examples, i: number) => Array.from({ length: d }, (_, k) => `<td>${fmt(set.x.data[i * rowSize(set) + k]!)}</td>`).join('');
  const target = (set: Examples, i: number) => {
    const per = set.y.data.length / Math.max(1, set.y.shape[0]!);
    return Array.from({ length: per }, (_, k) => fmt(set.y.data[i * per + k]!)).join(', ');
  };
  const image = imageLayout(test.x.shape.slice(1));
  const ranked = topScores(scores, Math.min(m, 50), n, image ? Math.min(top, 10) : top);
  const figure = (set: Examples, i: number, label: string, cls: string) =>
    `<figure class="${cls}"><img src="${image ? imageUrl(set, i, image) : ''}" alt="${label}"><figcaption>${label}<br>target ${esc(target(set, i))}</figcaption></figure>`;
  const imageSection = (r: (typeof ranked)[number]): string =>
    `<h2>test example ${r.test}</h2><div class="row">${figure(test, r.test, `test ${r.test}`, 'test')}` +
    `<span>proponents</span>${r.proponents.map((p) => figure(train, trainRow(p.train), `train ${p.train}: ${fmt(p.score)}`, 'pro')).join('')}` +
    `<span>opponents</span>${r.opponents.map((p) => figure(train, trainRow(p.train), `train ${p.train}: ${fmt(p.score)}`, 'opp')).join('')}</div>`;
  const head = `<tr><th>example</th><th>score</th><th>target</th>${Array.from({ length: d }, (_, k) => `<th>x${k}</th>`).join('')}</tr>`;
  const tableSection = (r: (typeof ranked)[number]): string => {
    const rows = [
      `<tr class="test"><td>test ${r.test}</td><td></td><td>${esc(target(test, r.test))}</td>${features(test, r.test)}</tr>`,
      ...r.proponents.map((p) => `<tr class="pro"><td>train ${p.train}</td><td>${fmt(p.score)}</td><td>${esc(target(train, trainRow(p.train)))}</td>${features(train, trainRow(p.train))}</tr>`),
      ...r.opponents.map((p) => `<tr class="opp"><td>train ${p.train}</td><td>${fmt(p.score)}</td><td>${esc(target(train, trainRow(p.train)))}</td>${features(train, trainRow(p.train))}</tr>`),
    ];
    return `<h2>test example ${r.test}</h2><table>${head}${rows.join('')}</table>`;
  };
  return `<!doctype html><html><head><meta charset="utf-8"><title>attrib data: ${esc(method)}</title><style>
body{font:13px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
tr.test{background:#eef}tr.pro{background:#efe}tr.opp{background:#fee}
.row{display:flex;flex-wrap:wrap;align-items:center;gap:6px}.row span{font-weight:bold;margin:0 4px}figure{margin:0;padding:3px;text-align:center;font-size:11px}
figure img{width:84px;image-rendering:pixelated}figure.test{background:#eef}figure.pro{background:#efe}figure.opp{background:#fee}</style></head><body>
<h1>${esc(method)}: test examples beside their top ${image ? Math.min(top, 10) : top} proponents (green) and opponents (red)</h1>
<p>score[i, j] &gt; 0: removing training example j is predicted to raise test example i's loss. ${m} test × ${n} training examples${m > 50 ? '; the first 50 test examples shown' : ''}.</p>
${ranked.map(image ? imageSection : tableSection).join('\n')}</body></html>
`;
}
