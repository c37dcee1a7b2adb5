// The context view: a local language model of the models folder, a context, a query and (optionally)
// the response → the context with each source on the colour of its score, the top sources listed.
// Only local models: the studio never sends requests to other servers.
import { h } from './client.js';
import { field, fmt, paint, select, wireRun, type Kinds, type KindView } from './kind-form.js';

const METHODS = ['context-cite', 'leave-one-out', 'kernel-shap', 'attribot'];

interface SourceScore {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly score: number;
}
interface ContextResult {
  readonly method: string;
  readonly sources: readonly SourceScore[];
  readonly response: string;
  readonly diagnostics: { readonly prompts: number; readonly elapsedMs: number; readonly fullLogProb: number };
}

/** The view's form and results panel. */
export function contextView(kinds: Kinds): KindView {
  const models = kinds.transformers.filter((t) => t.tokenizer).map((t) => t.id);
  const model = select('x-model', models);
  const note = h('p', { class: 'note' }, models.length === 0 ? 'No local language model (config.json, model.safetensors, a WordLevel or BPE tokenizer.json) in the models folder.' : 'a local model of the models folder; remote endpoints are for the CLI (attrib context --endpoint)');
  const context = h('textarea', { id: 'x-context', rows: '6', placeholder: 'the context: sentences, lines or paragraphs are its sources' });
  const query = h('input', { type: 'text', id: 'x-query', placeholder: 'the question' });
  const response = h('input', { type: 'text', id: 'x-response', placeholder: 'the answer (empty: the model generates one)' });
  const method = select('x-method', METHODS, 'context-cite');
  const sources = select('x-sources', ['sentences', 'lines', 'paragraphs'], 'sentences');
  const ablations = h('input', { type: 'number', id: 'x-ablations', value: '32', min: '1', max: '4096' });
  const run = h('button', { class: 'primary', id: 'x-run', type: 'button' }, 'Attribute');
  const error = h('p', { class: 'error', id: 'x-error', role: 'alert' });
  const out = h('div', { id: 'x-results' });
  wireRun<ContextResult>(run, error, out, '/api/context', () => ({ model: model.value, context: context.value, query: query.value, response: response.value, method: method.value, sources: sources.value, ablations: Number(ablations.value) }), (r) => contextCard(r, context.value));
  const form = h('aside', {}, ...field('Language model', model), note, ...field('Context', context), ...field('Query', query), ...field('Response', response), ...field('Method', method), ...field('Sources', sources), ...field('Ablations (context-cite, kernel-shap)', ablations), run, error);
  return { form, panel: h('section', { class: 'panel' }, h('p', { class: 'note' }, 'Each source is coloured by its score: how much it raised the log-probability of the response (red) or lowered it (blue).'), out) };
}

/** The context with its sources highlighted, the response, the ranking. */
function contextCard(r: ContextResult, context: string): HTMLElement {
  const scale = Math.max(1e-12, ...r.sources.map((s) => Math.abs(s.score)));
  const order = r.sources.map((_, i) => i).sort((a, b) => r.sources[b]!.score - r.sources[a]!.score);
  const rank = new Map(order.map((i, k) => [i, k + 1]));
  const parts: (HTMLElement | string)[] = [];
  let at = 0;
  r.sources.forEach((s, i) => {
    if (s.start > at) parts.push(context.slice(at, s.start));
    const el = paint(h('span', { class: `source${rank.get(i) === 1 ? ' top' : ''}`, 'data-rank': String(rank.get(i)), title: `rank ${rank.get(i)}, score ${s.score}` }, context.slice(s.start, s.end)), s.score / scale);
    parts.push(el);
    at = Math.max(at, s.end);
  });
  if (at < context.length) parts.push(context.slice(at));
  return h(
    'div',
    { class: 'card wide done', 'data-method': r.method },
    h('h3', {}, r.method),
    h('p', { class: 'context-text' }, ...parts),
    h('p', {}, h('b', {}, 'Response: '), r.response),
    h('dl', {}, h('dt', {}, 'prompts scored'), h('dd', {}, String(r.diagnostics.prompts)), h('dt', {}, 'log p(response)'), h('dd', {}, fmt(r.diagnostics.fullLogProb)), h('dt', {}, 'time'), h('dd', {}, `${r.diagnostics.elapsedMs} ms`)),
    h('ol', { class: 'top-sources' }, ...order.slice(0, 5).map((i) => h('li', {}, `${fmt(r.sources[i]!.score)}: ${r.sources[i]!.text}`))),
  );
}
