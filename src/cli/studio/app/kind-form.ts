// What the components, context and data views share: labelled fields, a Run button posting the form,
// cells painted on the diverging colour map.
import { colorOf } from '../../../viz/colormap.js';
import { ApiError, h, post } from './client.js';

/** What GET /api/kinds lists. */
export interface Kinds {
  readonly transformers: readonly { readonly id: string; readonly tokenizer: boolean }[];
  readonly data: readonly { readonly id: string }[];
}

/** A view's parts: the form (aside) and the results panel. */
export interface KindView {
  readonly form: HTMLElement;
  readonly panel: HTMLElement;
}

/** A labelled field: `<label for=id>text</label>` then the control. */
export const field = (text: string, control: HTMLElement): HTMLElement[] => [h('label', { for: control.id }, text), control];

/** A select of `values` (value = text). */
export const select = (id: string, values: readonly string[], chosen?: string): HTMLSelectElement =>
  h('select', { id }, ...values.map((v) => h('option', { value: v, selected: v === chosen }, v)));

/**
 * Wires a Run button: on click, posts `body()` to `url`, shows "running…" in the panel, then
 * `show(result)`, or the server's message in the error line. The button is disabled while it runs.
 */
export function wireRun<T>(run: HTMLButtonElement, error: HTMLElement, out: HTMLElement, url: string, body: () => Record<string, unknown>, show: (r: T) => HTMLElement): void {
  run.addEventListener('click', async () => {
    error.textContent = '';
    run.disabled = true;
    out.replaceChildren(h('p', { class: 'note running' }, 'running…'));
    try {
      const r = await post<T>(url, body());
      out.replaceChildren(show(r));
    } catch (e) {
      out.replaceChildren();
      error.textContent = e instanceof ApiError ? e.message : String(e);
    } finally {
      run.disabled = false;
    }
  });
}

/** Paints `el` with the diverging colour of `v` in [−1, 1] (red for, blue against). */
export function paint(el: HTMLElement, v: number): HTMLElement {
  const [r, g, b] = colorOf('diverging', v);
  el.style.background = `rgb(${r}, ${g}, ${b})`;
  el.style.color = Math.abs(v) > 0.6 ? '#fff' : '#111';
  return el;
}

/** A number for the page: three significant digits. */
export const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(3))));
