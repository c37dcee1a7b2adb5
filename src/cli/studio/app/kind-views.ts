// The studio's tabs: feature attribution (the main view), then a transformer's components, a
// context's sources and a test example's training data, each a form on the left and its results on
// the right. The data for the three comes from GET /api/kinds.
import { get, h } from './client.js';
import { componentsView } from './components-view.js';
import { contextView } from './context-view.js';
import { dataView } from './data-view.js';
import type { Kinds, KindView } from './kind-form.js';

/**
 * Adds the tab bar to `header`, with the feature-attribution view (`main`) as the first tab and the
 * components, context and data views after it (each shown instead of `main` when its tab is picked).
 */
export async function addKindViews(header: HTMLElement, main: HTMLElement): Promise<void> {
  const tabs = h('nav', { class: 'tabs', id: 'tabs' });
  header.append(tabs);
  const views: [string, string, HTMLElement][] = [['features', 'Features', main]];
  let kinds: Kinds = { transformers: [], data: [] };
  try {
    kinds = await get<Kinds>('/api/kinds');
  } catch {
    // the main view says why the API refused the page (no token)
  }
  const add = (id: string, title: string, view: KindView) => {
    const el = h('main', { id: `view-${id}`, hidden: true }, view.form, view.panel);
    main.after(el);
    views.push([id, title, el]);
  };
  add('components', 'Components', componentsView(kinds));
  add('context', 'Context', contextView(kinds));
  add('data', 'Data', dataView(kinds));
  for (const [id, title, el] of views) {
    const b = h('button', { type: 'button', id: `tab-${id}`, class: id === 'features' ? 'chosen' : undefined }, title);
    b.addEventListener('click', () => {
      for (const [, , other] of views) other.hidden = other !== el;
      tabs.querySelectorAll('button').forEach((x) => x.classList.toggle('chosen', x === b));
    });
    tabs.append(b);
  }
}
