import { kebab } from '../args.js';
import { METHODS } from '../../methods.js';

const NEEDS = { gradients: 'gradients', forward: 'forward only', hooks: 'layer access' } as const;

/** `attrib methods [--json]`: the registry as a table (or JSON). */
export function methodsCommand(json: boolean): string {
  if (json) {
    return JSON.stringify(
      METHODS.map((m) => ({
        id: m.id,
        title: m.title,
        family: m.family,
        requires: m.requires,
        ...(m.layer ? { layer: m.layer } : {}),
        output: m.output,
        cost: m.cost,
        stochastic: m.stochastic,
        reference: m.reference,
        options: m.options,
      })),
      null,
      2,
    );
  }
  const rows = METHODS.map((m) => [
    m.id,
    NEEDS[m.requires],
    m.cost,
    [...(m.layer ? [m.layer === 'required' ? '--layer' : '[--layer]'] : []), ...m.options.map((o) => `--${kebab(o.name)}${o.default !== undefined ? `=${String(o.default)}` : ''}`)].join(' ') || '-',
    m.reference,
  ]);
  const header = ['method', 'needs', 'cost (model rows)', 'options (default)', 'reference'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}
