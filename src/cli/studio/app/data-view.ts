// The data view: a data folder (a model.onnx trained on train-x/train-y, and test-x/test-y), a test
// example and a method → the test example beside its top proponents and opponents among the training
// examples: images as thumbnails, table rows as rows.
import { h } from './client.js';
import { field, fmt, paint, select, wireRun, type Kinds, type KindView } from './kind-form.js';

const METHODS = ['influence', 'trak', 'tracin', 'grad-dot', 'grad-cos'];
/** Features shown of a table row. */
const MAX_FEATURES = 24;

interface Example {
  readonly x: readonly number[];
  readonly y: readonly number[];
}
interface Ranked extends Example {
  readonly train: number;
  readonly score: number;
}
interface DataResult {
  readonly method: string;
  readonly test: Example & { readonly index: number };
  readonly rowShape: readonly number[];
  readonly testSize: number;
  readonly trainSize: number;
  readonly proponents: readonly Ranked[];
  readonly opponents: readonly Ranked[];
  readonly diagnostics: { readonly evaluations: number; readonly elapsedMs: number };
}

/** The view's form and results panel. */
export function dataView(kinds: Kinds): KindView {
  const model = select('d-model', kinds.data.map((d) => d.id));
  const note = h('p', { class: 'note' }, kinds.data.length === 0 ? 'No data folders (model.onnx with train-x.npy, train-y.npy, test-x.npy, test-y.npy) in the models folder.' : 'scores of the training examples for one test example');
  const test = h('input', { type: 'number', id: 'd-test', value: '0', min: '0', step: '1' });
  const method = select('d-method', METHODS, 'influence');
  const l2 = h('input', { type: 'number', id: 'd-l2', value: '0.01', min: '0', step: 'any', title: 'λ of the training objective (influence), the ridge of TRAK' });
  const top = h('input', { type: 'number', id: 'd-top', value: '5', min: '1', max: '20' });
  const run = h('button', { class: 'primary', id: 'd-run', type: 'button' }, 'Attribute');
  const error = h('p', { class: 'error', id: 'd-error', role: 'alert' });
  const out = h('div', { id: 'd-results' });
  wireRun<DataResult>(run, error, out, '/api/data', () => ({ model: model.value, test: Number(test.value), method: method.value, l2: Number(l2.value), top: Number(top.value) }), dataCard);
  const form = h('aside', {}, ...field('Data folder', model), note, ...field('Test example (index)', test), ...field('Method', method), ...field('L2 (λ)', l2), ...field('Proponents and opponents', top), run, error);
  return { form, panel: h('section', { class: 'panel' }, h('p', { class: 'note' }, 'A proponent is a training example whose removal is predicted to raise the test loss; an opponent, one whose removal would lower it.'), out) };
}

/** The image layout of a row shape: [H, W], [H, W, C] or [C, H, W] with C = 1 or 3; undefined for a table row. */
function imageLayout(shape: readonly number[]): { h: number; w: number; c: number; chw: boolean } | undefined {
  if (shape.length === 2 && shape[0]! > 1 && shape[1]! > 1) return { h: shape[0]!, w: shape[1]!, c: 1, chw: false };
  if (shape.length !== 3) return undefined;
  if (shape[2] === 1 || shape[2] === 3) return { h: shape[0]!, w: shape[1]!, c: shape[2], chw: false };
  if (shape[0] === 1 || shape[0] === 3) return { h: shape[1]!, w: shape[2]!, c: shape[0], chw: true };
  return undefined;
}

/** A thumbnail of an image row, scaled to [0, 255] by its own range. */
function thumbnail(x: readonly number[], l: { h: number; w: number; c: number; chw: boolean }): HTMLCanvasElement {
  const canvas = h('canvas', { class: 'thumb', width: String(l.w), height: String(l.h) });
  const lo = Math.min(...x);
  const span = Math.max(1e-12, Math.max(...x) - lo);
  const rgba = new Uint8ClampedArray(l.w * l.h * 4);
  for (let p = 0; p < l.w * l.h; p++) {
    for (let k = 0; k < 3; k++) {
      const ch = l.c === 1 ? 0 : k;
      const v = x[l.chw ? ch * l.w * l.h + p : p * l.c + ch] ?? lo;
      rgba[p * 4 + k] = Math.round((255 * (v - lo)) / span);
    }
    rgba[p * 4 + 3] = 255;
  }
  canvas.getContext('2d')?.putImageData(new ImageData(rgba, l.w, l.h), 0, 0);
  return canvas;
}

/** The test example, then its proponents and opponents: a table (rows) or thumbnails (images). */
function dataCard(r: DataResult): HTMLElement {
  // rows longer than the server sends whole (a 64 × 64 RGB image) come cut: shown as table rows
  const image = r.rowShape.reduce((a, b) => a * b, 1) === r.test.x.length ? imageLayout(r.rowShape) : undefined;
  const scale = Math.max(1e-12, ...[...r.proponents, ...r.opponents].map((e) => Math.abs(e.score)));
  const label = (e: Example) => e.y.map((v) => fmt(v)).join(', ');
  const facts = h('dl', {}, h('dt', {}, 'test example'), h('dd', {}, `${r.test.index} of ${r.testSize} (target ${label(r.test)})`), h('dt', {}, 'training examples'), h('dd', {}, String(r.trainSize)), h('dt', {}, 'gradient rows'), h('dd', {}, String(r.diagnostics.evaluations)), h('dt', {}, 'time'), h('dd', {}, `${r.diagnostics.elapsedMs} ms`));
  if (image) {
    const tile = (e: Example, role: string, caption: string, score?: number) => {
      const cap = h('figcaption', {}, caption);
      if (score !== undefined) paint(cap, score / scale);
      return h('figure', { class: `example ${role}` }, thumbnail(e.x, image), cap);
    };
    const row = (role: string, list: readonly Ranked[]) => h('div', { class: 'tiles' }, h('span', { class: 'role' }, `${role}s`), ...list.map((e) => tile(e, role, `#${e.train} y=${label(e)} ${fmt(e.score)}`, e.score)));
    return h('div', { class: 'card wide done', 'data-method': r.method }, h('h3', {}, r.method), facts, h('div', { class: 'tiles' }, h('span', { class: 'role' }, 'test'), tile(r.test, 'test', `#${r.test.index} y=${label(r.test)}`)), row('proponent', r.proponents), row('opponent', r.opponents));
  }
  const d = Math.min(MAX_FEATURES, r.test.x.length);
  const cells = (e: Example) => e.x.slice(0, d).map((v) => h('td', {}, fmt(v)));
  const tr = (role: string, name: string, e: Example, score?: number) => h('tr', { class: `example ${role}` }, h('th', {}, role), h('td', {}, name), h('td', {}, label(e)), score === undefined ? h('td', {}) : paint(h('td', { class: 'score' }, fmt(score)), score / scale), ...cells(e));
  const head = h('tr', {}, h('th', {}, ''), h('th', {}, 'example'), h('th', {}, 'target'), h('th', {}, 'score'), ...Array.from({ length: d }, (_, k) => h('th', {}, `x${k}`)));
  const body = [tr('test', `#${r.test.index}`, r.test), ...r.proponents.map((e) => tr('proponent', `#${e.train}`, e, e.score)), ...r.opponents.map((e) => tr('opponent', `#${e.train}`, e, e.score))];
  return h('div', { class: 'card wide done', 'data-method': r.method }, h('h3', {}, r.method), facts, h('div', { class: 'scroll' }, h('table', { class: 'examples' }, h('thead', {}, head), h('tbody', {}, ...body))));
}
