import { colorOf } from './colormap.js';
import { normalizeMap } from './heatmap.js';

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Tokens highlighted by their attribution (red = pushes the target up, blue = down), as an HTML
 * fragment; each token's exact value is in its tooltip.
 */
export function tokenHtml(tokens: readonly string[], scores: ArrayLike<number>): string {
  const norm = normalizeMap(scores, 100);
  return tokens
    .map((tok, i) => {
      const [r, g, b] = colorOf('diverging', norm[i] ?? 0);
      const dark = Math.abs(norm[i] ?? 0) > 0.6;
      const value = Number(scores[i] ?? 0).toPrecision(4);
      return `<span class="tok" style="background:rgb(${r},${g},${b});color:${dark ? '#fff' : '#111'}" title="${escapeHtml(tok)}: ${value}">${escapeHtml(tok)}</span>`;
    })
    .join(' ');
}
