import { flagHelp, kebab, wrap, type FlagSpec } from '../args.js';
import { COMPONENT_CATALOGUE, findComponentMethod, findMethod, METHODS, type ComponentMethodInfo, type MethodDescriptor } from '../../methods.js';
import { methodFlags } from './explain.js';

const NEEDS = { gradients: 'gradients', forward: 'forward only', hooks: 'layer access' } as const;

/** Columns of the terminal views. */
export const METHODS_WIDTH = 100;

/** Flags of `attrib methods`. */
export const METHODS_FLAGS: readonly FlagSpec[] = [{ name: 'json', type: 'bool', help: 'the registry as JSON (every field of every method)' }];

const cut = (s: string, w: number): string => (s.length <= w ? s : `${s.slice(0, w - 1)}…`);

/**
 * `attrib methods [--json]`: the registry as a table that fits {@link METHODS_WIDTH} columns (id,
 * family, what the model must offer, cost), or as JSON. `attrib methods ID` shows one method.
 */
export function methodsCommand(json: boolean, id?: string): string {
  const component = id === undefined ? undefined : findComponentMethod(id);
  if (component) return json ? JSON.stringify(component, null, 2) : componentDetail(component);
  if (id !== undefined) return json ? JSON.stringify(methodJson(findMethod(id)), null, 2) : methodDetail(findMethod(id));
  if (json) return JSON.stringify([...METHODS.map(methodJson), ...COMPONENT_CATALOGUE], null, 2);
  const header = ['method', 'family', 'needs', 'cost (model rows)'];
  const rows = METHODS.map((m) => [m.id, m.family, NEEDS[m.requires], m.cost]);
  const parts = COMPONENT_CATALOGUE.map((m) => [m.id, m.family, 'transformer', m.cost]);
  const widths = header.slice(0, 3).map((h, i) => Math.max(h.length, ...[...rows, ...parts].map((r) => r[i]!.length)));
  const rest = METHODS_WIDTH - widths.reduce((a, b) => a + b + 2, 0);
  const fmt = (r: readonly string[]) => [...r.slice(0, 3).map((c, i) => c.padEnd(widths[i]!)), cut(r[3]!, rest)].join('  ').trimEnd();
  const rule = fmt([...widths.map((w) => '-'.repeat(w)), '-'.repeat(Math.min(rest, 17))]);
  return [
    fmt(header), rule, ...rows.map(fmt), '',
    ...wrap(`Component methods (a transformer's heads, MLPs and positions; attrib components --method ID):`, METHODS_WIDTH),
    rule, ...parts.map(fmt), '',
    ...wrap(`${METHODS.length} + ${COMPONENT_CATALOGUE.length} methods. Options, defaults and reference of one: attrib methods ID (e.g. attrib methods integrated-gradients)`, METHODS_WIDTH),
  ].join('\n');
}

function methodJson(m: MethodDescriptor) {
  return {
    id: m.id,
    kind: 'feature',
    title: m.title,
    family: m.family,
    requires: m.requires,
    ...(m.layer ? { layer: m.layer } : {}),
    output: m.output,
    cost: m.cost,
    stochastic: m.stochastic,
    reference: m.reference,
    options: m.options,
  };
}

/** One method: title, family, requirements, cost, reference and its options with defaults and values. */
export function methodDetail(m: MethodDescriptor): string {
  const field = (name: string, value: string) => wrap(value, METHODS_WIDTH - 14).map((l, i) => `${(i === 0 ? name : '').padEnd(14)}${l}`);
  const lines = [
    `${m.title} (${m.id})`,
    '',
    ...field('family', m.family),
    ...field('needs', `${NEEDS[m.requires]}${m.rules ? ' (modified back-propagation: TF.js layers models only)' : ''}`),
    ...field('returns', m.output === 'feature' ? 'one score per input element' : 'one score per element of the layer'),
    ...(m.layer ? field('layer', m.layer === 'required' ? '--layer NAME is required' : '--layer NAME, or a default layer') : []),
    ...field('cost', `${m.cost} model rows`),
    ...field('stochastic', m.stochastic ? 'yes (--seed)' : 'no'),
    ...field('reference', m.reference),
    '',
    m.options.length > 0 ? 'options:' : 'options: none',
    ...(m.options.length > 0 ? [flagHelp(methodFlags(m), METHODS_WIDTH)] : []),
    '',
    ...wrap(`usage: attrib explain --model M --input X --method ${m.id}${m.layer === 'required' ? ' --layer NAME' : ''}${m.options.length > 0 ? ` [${m.options.map((o) => `--${kebab(o.name)}`).join(' ')}]` : ''}`, METHODS_WIDTH),
  ];
  return lines.join('\n');
}

/** One component method: title, family, needs, cost, reference, options and the command that runs it. */
function componentDetail(m: ComponentMethodInfo): string {
  const field = (name: string, value: string) => wrap(value, METHODS_WIDTH - 14).map((l, i) => `${(i === 0 ? name : '').padEnd(14)}${l}`);
  const nodes = m.options.find((o) => o.name === 'nodes');
  const option = (o: ComponentMethodInfo['options'][number]) => field(`  ${o.name}`, `${o.help}${o.values ? ` (${o.values.join('|')})` : ''}${o.default === undefined ? '' : `; default ${String(o.default)}`}`);
  return [
    `${m.title} (${m.id})`,
    '',
    ...field('family', `${m.family} (component attribution: scores per node of a transformer)`),
    ...field('needs', `a transformer folder (GPT-2, LLaMA, Qwen2, Mistral); ${m.needs}`),
    ...field('returns', 'one score per node (head q/k/v/z, MLP output, residual position)'),
    ...field('cost', `${m.cost} model rows`),
    ...field('stochastic', 'no'),
    ...field('reference', m.reference),
    '',
    m.options.length > 0 ? 'options:' : 'options: none',
    ...m.options.flatMap(option),
    '',
    ...wrap(`usage: attrib components --model DIR --tokens … ${m.needs.startsWith('clean and corrupt') ? '--corrupt-tokens … ' : ''}--answer ID --wrong ID --method ${m.id}${nodes ? ` [--nodes ${nodes.values?.join(',') ?? ''}] [--per-position]` : ''}${m.options.some((o) => o.name === 'batchSize') ? ' [--batch-size N]' : ''} --out FILE.json|DIR`, METHODS_WIDTH),
  ].join('\n');
}
