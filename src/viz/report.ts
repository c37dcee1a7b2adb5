import { colorOf } from './colormap.js';
import { escapeHtml } from './token-spans.js';

/**
 * What one report section shows as its input: the image itself, the feature values of a tabular
 * row as bars, or any HTML. `title` names the card (default "input"); `caption` goes under it.
 */
export type ReportInput = (
  | { readonly kind: 'image'; readonly png: Uint8Array }
  | { readonly kind: 'table'; readonly names: readonly string[]; readonly values: readonly number[] }
  | { readonly kind: 'html'; readonly html: string }
) & { readonly title?: string; readonly caption?: string };

/** One method's panel. */
export interface ReportMethod {
  readonly id: string;
  readonly title: string;
  /** A PNG (heatmap or overlay). */
  readonly png?: Uint8Array;
  /** Per-feature bars for tabular attributions. */
  readonly bars?: { readonly names: readonly string[]; readonly values: readonly number[] };
  /** Any HTML fragment (token highlighting). */
  readonly html?: string;
  /** Diagnostics shown under the panel, label → value. */
  readonly facts: Readonly<Record<string, string>>;
}

export interface ReportSection {
  readonly title: string;
  readonly subtitle?: string;
  readonly input: ReportInput;
  readonly methods: readonly ReportMethod[];
}

export interface Report {
  readonly title: string;
  readonly intro?: string;
  readonly sections: readonly ReportSection[];
  /** A table under the sections: header row, then rows. */
  readonly summary?: { readonly header: readonly string[]; readonly rows: readonly (readonly string[])[] };
  /** Show the attribution colour legend (default true); off for pages without attributions. */
  readonly legend?: boolean;
}

/** A self-contained HTML page (inline CSS and images, no scripts, no network). */
export function renderReport(r: Report): string {
  const sections = r.sections.map(renderSection).join('\n');
  const summary = r.summary
    ? `<h2>Summary</h2><table class="summary"><thead><tr>${r.summary.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${r.summary.rows
        .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 4px}p.sub{color:#555;margin:0 0 12px}
.grid{display:flex;flex-wrap:wrap;gap:14px}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px;width:260px}
.card h3{font-size:14px;margin:0 0 6px}.card img{width:240px;image-rendering:pixelated;border-radius:4px;display:block}
.facts{font-size:12px;color:#444;margin-top:6px}.facts div{display:flex;justify-content:space-between}
.tok{padding:1px 3px;border-radius:3px;margin:1px;display:inline-block;font-family:ui-monospace,monospace}
table.summary{border-collapse:collapse;background:#fff}table.summary td,table.summary th{border:1px solid #ddd;padding:4px 8px;text-align:right}
table.summary td:first-child,table.summary th:first-child{text-align:left}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;color:#555;margin:6px 0 10px}
.legend span.bar{width:180px;height:10px;border-radius:3px;background:linear-gradient(90deg,${gradientStops()})}
</style></head><body>
<h1>${escapeHtml(r.title)}</h1>
${r.intro ? `<p class="sub">${escapeHtml(r.intro)}</p>` : ''}
${r.legend === false ? '' : '<div class="legend">pushes the target down <span class="bar"></span> pushes it up</div>'}
${sections}
${summary}
</body></html>
`;
}

function renderSection(s: ReportSection): string {
  const title = escapeHtml(s.input.title ?? 'input');
  const caption = s.input.caption ? `<div class="facts caption">${escapeHtml(s.input.caption)}</div>` : '';
  let input: string;
  if (s.input.kind === 'image') input = `<div class="card"><h3>${title}</h3><img alt="${title}" src="${dataUri(s.input.png)}">${caption}</div>`;
  else if (s.input.kind === 'table') {
    const svg = bars(s.input.names, s.input.values, false);
    input = `<div class="card" style="width:${svg.width + 20}px"><h3>${title}</h3>${svg.html}${caption}</div>`;
  } else input = `<div class="card" style="width:540px"><h3>${title}</h3>${s.input.html}${caption}</div>`;
  const methods = s.methods
    .map((m) => {
      const chart = m.png || !m.bars ? undefined : bars(m.bars.names, m.bars.values, true);
      const body = m.png ? `<img alt="${escapeHtml(m.id)}" src="${dataUri(m.png)}">` : chart ? chart.html : (m.html ?? '');
      const facts = Object.entries(m.facts)
        .map(([k, v]) => `<div><span>${escapeHtml(k)}</span><span>${escapeHtml(v)}</span></div>`)
        .join('');
      const width = m.html && !m.png ? 540 : chart ? chart.width + 20 : undefined;
      return `<div class="card"${width ? ` style="width:${width}px"` : ''}><h3>${escapeHtml(m.title)}</h3>${body}<div class="facts">${facts}</div></div>`;
    })
    .join('\n');
  return `<h2>${escapeHtml(s.title)}</h2>${s.subtitle ? `<p class="sub">${escapeHtml(s.subtitle)}</p>` : ''}<div class="grid">${input}\n${methods}</div>`;
}

/**
 * Horizontal bars as inline SVG, one per feature with its name and value, around a zero line when
 * any value is negative. Attributions (`coloured`) take the diverging colours by sign and size;
 * input values are drawn in one neutral colour.
 */
export function bars(names: readonly string[], values: readonly number[], coloured: boolean): { readonly html: string; readonly width: number } {
  const h = 16;
  const label = Math.min(160, Math.max(28, 7 * Math.max(0, ...names.map((n) => n.length)) + 6));
  const plot = 200;
  const valueText = 58;
  const width = label + plot + valueText;
  const max = Math.max(1e-12, ...values.map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
  const signed = values.some((v) => v < 0);
  const mid = signed ? label + plot / 2 : label;
  const span = signed ? plot / 2 : plot;
  const rows = values
    .map((v, i) => {
      const raw = names[i] ?? String(i);
      const name = escapeHtml(raw);
      const shown = escapeHtml(raw.length > 24 ? `${raw.slice(0, 23)}…` : raw);
      const len = (Math.min(Math.abs(v), max) / max) * span || 0;
      const x = v < 0 ? mid - len : mid;
      const [r, g, b] = coloured ? colorOf('diverging', v / max) : [110, 125, 150];
      return (
        `<text x="0" y="${i * h + 12}" font-size="11">${shown}</text>` +
        `<rect x="${x.toFixed(1)}" y="${i * h + 3}" width="${len.toFixed(1)}" height="${h - 6}" fill="rgb(${r},${g},${b})"><title>${name}: ${v.toPrecision(4)}</title></rect>` +
        `<text x="${width}" y="${i * h + 12}" font-size="10" fill="#555" text-anchor="end">${Number(v.toPrecision(3))}</text>`
      );
    })
    .join('');
  const axis = `<line x1="${mid}" x2="${mid}" y1="0" y2="${values.length * h}" stroke="#999"/>`;
  return { html: `<svg width="${width}" height="${values.length * h}" role="img" font-family="sans-serif">${rows}${axis}</svg>`, width };
}

function gradientStops(): string {
  return [-1, -0.5, 0, 0.5, 1].map((v) => `rgb(${colorOf('diverging', v).join(',')})`).join(',');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** base64 without Buffer or btoa (works in any runtime). */
export function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += B64[a >> 2]! + B64[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? '=' : B64[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? '=' : B64[c & 63]!;
  }
  return out;
}

const dataUri = (png: Uint8Array): string => `data:image/png;base64,${base64(png)}`;
