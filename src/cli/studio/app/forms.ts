// The method picker: one checkbox per method of the catalogue, and under a checked one a form of
// its options generated from the catalogue (number fields, selects, lists), defaults as placeholders.
import { h } from './client.js';

/** An option as the catalogue lists it (`GET /api/methods`). */
export interface OptionInfo {
  readonly name: string;
  readonly type: 'int' | 'number' | 'enum' | 'int-list' | 'number-list' | 'bool' | 'mask' | 'method';
  readonly help: string;
  readonly default?: string | number | boolean;
  readonly values?: readonly string[];
}

/** A method as the catalogue lists it. */
export interface MethodInfo {
  readonly id: string;
  readonly title: string;
  readonly family: string;
  readonly requires: string;
  readonly cost: string;
  readonly stochastic: boolean;
  readonly layer?: 'required' | 'default';
  readonly options: readonly OptionInfo[];
}

/** What the picker knows about the chosen model. */
export interface ModelView {
  readonly gradients: boolean;
  readonly image: boolean;
  readonly layers: readonly string[];
}

/** A checked method with the options the user set (empty fields are left to the defaults). */
export interface MethodChoice {
  readonly method: string;
  readonly options: Record<string, string>;
  readonly layer?: string;
}

const FAMILIES: Record<string, string> = { gradient: 'Gradient', perturbation: 'Perturbation', layer: 'Layer, neuron and CAM', backprop: 'Modified back-propagation', control: 'Control' };

/** Renders the picker into `root`; `read()` gives the checked methods and their options. */
export function methodPicker(root: HTMLElement, methods: readonly MethodInfo[], model: ModelView): { read(): MethodChoice[] } {
  root.replaceChildren();
  const rows: { info: MethodInfo; box: HTMLInputElement; fields: Map<string, HTMLInputElement | HTMLSelectElement>; layer?: HTMLSelectElement }[] = [];
  for (const [family, title] of Object.entries(FAMILIES)) {
    // what the model offers decides: gradients, layer hooks, or forward passes only
    const list = methods.filter((m) => m.family === family && (m.requires === 'forward' || (m.requires === 'gradients' && model.gradients) || (m.requires === 'hooks' && model.layers.length > 0)));
    if (list.length === 0) continue;
    const set = h('fieldset', {}, h('legend', {}, title));
    for (const info of list) {
      const box = h('input', { type: 'checkbox', id: `m-${info.id}`, 'data-method': info.id });
      const opts = h('div', { class: 'opts', hidden: true });
      const fields = new Map<string, HTMLInputElement | HTMLSelectElement>();
      for (const o of info.options) {
        const field = optionField(o, model, methods);
        field.id = `o-${info.id}-${o.name}`;
        fields.set(o.name, field);
        opts.append(h('div', {}, h('label', { for: field.id, title: o.help }, o.name), field));
      }
      let layer: HTMLSelectElement | undefined;
      if (info.layer) {
        layer = h('select', { id: `o-${info.id}-layer` }, ...(info.layer === 'default' ? [h('option', { value: '' }, '(default)')] : []), ...model.layers.map((l) => h('option', { value: l }, l)));
        opts.append(h('div', {}, h('label', { for: layer.id }, 'layer'), layer));
      }
      box.addEventListener('change', () => (opts.hidden = !box.checked));
      set.append(h('div', { class: 'method' }, h('label', { title: `${info.cost}${info.stochastic ? ' (stochastic)' : ''}` }, box, ` ${info.title}`), opts));
      rows.push({ info, box, fields, ...(layer ? { layer } : {}) });
    }
    root.append(set);
  }
  return {
    read: () =>
      rows
        .filter((r) => r.box.checked)
        .map((r) => {
          const options: Record<string, string> = {};
          for (const [name, f] of r.fields) if (f.value.trim() !== '') options[name] = f.value.trim();
          return { method: r.info.id, options, ...(r.layer && r.layer.value ? { layer: r.layer.value } : {}) };
        }),
  };
}

/** The field of one option: a select for enums, booleans and wrapped methods, else a text or number field. */
function optionField(o: OptionInfo, model: ModelView, methods: readonly MethodInfo[]): HTMLInputElement | HTMLSelectElement {
  const choices = o.type === 'enum' ? (o.values ?? []) : o.type === 'bool' ? ['true', 'false'] : o.type === 'method' ? methods.filter((m) => m.family === 'gradient' && m.options.every((x) => x.type !== 'method')).map((m) => m.id) : undefined;
  if (choices) {
    const sel = h('select', { title: o.help }, ...choices.map((v) => h('option', { value: v, selected: String(o.default) === v }, v)));
    return sel;
  }
  const numeric = o.type === 'int' || o.type === 'number';
  const field = h('input', { type: numeric ? 'number' : 'text', title: o.help, placeholder: o.default === undefined ? (o.type === 'mask' ? 'every element' : '') : String(o.default), ...(o.type === 'int' ? { step: '1', min: o.name === 'seed' ? '0' : '1' } : { step: 'any' }) });
  // images: perturbation methods group pixels into 4×4 blocks unless told otherwise
  if (o.type === 'mask' && model.image) field.value = 'grid:4';
  return field;
}
