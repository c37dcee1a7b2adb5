// The components view: a transformer folder, clean and corrupt tokens (ids, or text when the folder
// has a tokenizer), the answer and the wrong answer, a method → one layer × head heat map per node kind
// (q, k, v, z; the MLPs as a layer column), all on one colour scale, and the top nodes.
import { h } from './client.js';
import { field, fmt, paint, select, wireRun, type Kinds, type KindView } from './kind-form.js';

/** The component methods (`attrib components --method`). */
const METHODS = ['direct-logit-attribution', 'logit-lens', 'activation-patching', 'atp', 'atp-star'];
const NEEDS_CORRUPT = new Set(['activation-patching', 'atp', 'atp-star']);

/** A node's score, as `attrib components` writes it. */
interface NodeScore {
  readonly hook: string;
  readonly layer: number | null;
  readonly head: number | null;
  readonly position: number | null;
  readonly score: number;
}
interface ComponentsResult {
  readonly method: string;
  readonly metric: { readonly clean: number; readonly corrupt?: number };
  readonly nodes: readonly NodeScore[];
  readonly diagnostics: { readonly evaluations: number; readonly elapsedMs: number };
  /** The clean tokens as text (a folder with a tokenizer). */
  readonly tokens?: readonly string[];
}

/** The view's form and results panel. */
export function componentsView(kinds: Kinds): KindView {
  const model = select('c-model', kinds.transformers.map((t) => t.id));
  const note = h('p', { class: 'note', id: 'c-note' });
  const tokens = h('input', { type: 'text', id: 'c-tokens', placeholder: 'token ids (0,5,9,…) or a text' });
  const corrupt = h('input', { type: 'text', id: 'c-corrupt', placeholder: 'the same length; for patching and AtP' });
  const answer = h('input', { type: 'text', id: 'c-answer', placeholder: 'id or one-token text' });
  const wrong = h('input', { type: 'text', id: 'c-wrong', placeholder: 'id or one-token text' });
  const method = select('c-method', METHODS, 'direct-logit-attribution');
  const nodes = h('input', { type: 'text', id: 'c-nodes', value: 'z,q,k,v,mlp', title: 'node kinds: z, q, k, v, mlp' });
  const perPosition = h('input', { type: 'checkbox', id: 'c-per-position' });
  const run = h('button', { class: 'primary', id: 'c-run', type: 'button' }, 'Attribute');
  const error = h('p', { class: 'error', id: 'c-error', role: 'alert' });
  const out = h('div', { class: 'results', id: 'c-results' });
  const describe = () => {
    const t = kinds.transformers.find((x) => x.id === model.value);
    note.textContent = !t ? 'No transformer folders (config.json + model.safetensors) in the models folder.' : t.tokenizer ? 'tokens: ids or a text (tokenizer.json)' : 'tokens: ids (no tokenizer.json)';
    corrupt.disabled = !NEEDS_CORRUPT.has(method.value);
  };
  model.addEventListener('change', describe);
  method.addEventListener('change', describe);
  describe();
  wireRun<ComponentsResult>(
    run,
    error,
    out,
    '/api/components',
    () => ({ model: model.value, tokens: tokens.value, ...(NEEDS_CORRUPT.has(method.value) ? { corrupt: corrupt.value } : {}), answer: answer.value, wrong: wrong.value, method: method.value, nodes: nodes.value, perPosition: perPosition.checked }),
    componentsCard,
  );
  const form = h(
    'aside',
    {},
    ...field('Transformer', model),
    note,
    ...field('Clean tokens', tokens),
    ...field('Corrupt tokens', corrupt),
    ...field('Answer', answer),
    ...field('Wrong answer', wrong),
    ...field('Method', method),
    ...field('Nodes', nodes),
    h('label', {}, perPosition, ' one node per position'),
    run,
    error,
  );
  return { form, panel: h('section', { class: 'panel' }, h('p', { class: 'note' }, 'M = logit[answer] − logit[wrong] at the last position; each node scored as attrib components scores it (docs/transformers.md): red positive, blue negative, one colour scale per run.'), out) };
}

/** The node kind of a hook: z, q, k, v or mlp. */
const kindOf = (hook: string): string => (hook.endsWith('hook_mlp_out') ? 'mlp' : (hook.match(/hook_(\w+)$/)?.[1] ?? hook));

/** One card: the metric, a heat map per node kind, the top nodes. */
function componentsCard(r: ComponentsResult): HTMLElement {
  const scale = Math.max(1e-12, ...r.nodes.map((n) => Math.abs(n.score)));
  const byKind = new Map<string, NodeScore[]>();
  for (const n of r.nodes) byKind.set(kindOf(n.hook), [...(byKind.get(kindOf(n.hook)) ?? []), n]);
  const maps = [...byKind].map(([kind, ns]) => heatmap(kind, ns, scale, r.tokens));
  const top = [...r.nodes].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).slice(0, 10);
  const label = (n: NodeScore) => `L${n.layer ?? '?'}${n.head === null ? '' : ` H${n.head}`} ${kindOf(n.hook)}${n.position === null ? '' : ` @${n.position}`}`;
  return h(
    'div',
    { class: 'card wide done', 'data-method': r.method },
    h('h3', {}, r.method),
    h('dl', {}, h('dt', {}, 'M clean'), h('dd', {}, fmt(r.metric.clean)), ...(r.metric.corrupt === undefined ? [] : [h('dt', {}, 'M corrupt'), h('dd', {}, fmt(r.metric.corrupt))]), h('dt', {}, 'forward runs'), h('dd', {}, String(r.diagnostics.evaluations)), h('dt', {}, 'time'), h('dd', {}, `${r.diagnostics.elapsedMs.toFixed(0)} ms`), h('dt', {}, 'scale'), h('dd', {}, `±${fmt(scale)}`)),
    h('div', { class: 'maps' }, ...maps),
    h('h4', {}, 'Top nodes'),
    h('ol', { class: 'top-nodes' }, ...top.map((n) => h('li', { title: n.hook }, `${label(n)}: ${fmt(n.score)}`))),
  );
}

/**
 * A table heat map of one node kind: rows are layers, columns heads (over all positions) or, per
 * position, rows are layer·head and columns positions (with their tokens, when known). Cells carry
 * their score as a title.
 */
function heatmap(kind: string, nodes: readonly NodeScore[], scale: number, tokens?: readonly string[]): HTMLElement {
  const perPosition = nodes.some((n) => n.position !== null);
  const rowKey = (n: NodeScore) => (perPosition ? `L${n.layer}${n.head === null ? '' : `.H${n.head}`}` : `L${n.layer}`);
  const colKey = (n: NodeScore) => (perPosition ? `${n.position}${tokens?.[n.position!] === undefined ? '' : ` ${tokens[n.position!]}`}` : n.head === null ? 'mlp' : `H${n.head}`);
  const rows = [...new Set(nodes.map(rowKey))];
  const cols = [...new Set(nodes.map(colKey))];
  const at = new Map(nodes.map((n) => [`${rowKey(n)}|${colKey(n)}`, n.score]));
  const body = rows.map((r) =>
    h(
      'tr',
      {},
      h('th', {}, r),
      ...cols.map((c) => {
        const v = at.get(`${r}|${c}`);
        return v === undefined ? h('td', {}) : paint(h('td', { title: `${r} ${c}: ${v}` }, fmt(v)), v / scale);
      }),
    ),
  );
  const axes = kind === 'mlp' ? (perPosition ? 'layer × position' : 'layer') : perPosition ? 'layer·head × position' : 'layer × head';
  return h('table', { class: 'heatmap-grid', 'data-kind': kind }, h('caption', {}, `${kind}: ${axes}`), h('thead', {}, h('tr', {}, h('th', {}), ...cols.map((c) => h('th', {}, c)))), h('tbody', {}, ...body));
}
