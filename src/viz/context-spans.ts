import { colorOf } from './colormap.js';
import { normalizeMap } from './heatmap.js';
import { escapeHtml } from './token-spans.js';

/** A scored span of a text: characters [start, end). */
export interface ScoredSpan {
  readonly start: number;
  readonly end: number;
  readonly score: number;
}

/**
 * A text with its scored spans highlighted (red = the span raised the answer's probability, blue =
 * lowered it; the strongest span is the most saturated), the text between spans left plain, line
 * breaks kept; each span's score and rank are in its tooltip. Spans must be ordered and disjoint.
 */
export function contextHtml(text: string, spans: readonly ScoredSpan[]): string {
  const norm = normalizeMap(spans.map((s) => s.score), 100);
  const rank = spans.map((_, i) => i).sort((a, b) => spans[b]!.score - spans[a]!.score);
  const rankOf = new Map(rank.map((i, r) => [i, r + 1]));
  let at = 0;
  let out = '';
  const plain = (s: string) => escapeHtml(s).replace(/\n/g, '<br>');
  spans.forEach((s, i) => {
    out += plain(text.slice(at, s.start));
    const [r, g, b] = colorOf('diverging', norm[i] ?? 0);
    const dark = Math.abs(norm[i] ?? 0) > 0.6;
    out += `<span class="src" style="background:rgb(${r},${g},${b});color:${dark ? '#fff' : '#111'}" title="#${rankOf.get(i)}: ${s.score.toPrecision(4)}">${plain(text.slice(s.start, s.end))}</span>`;
    at = s.end;
  });
  return out + plain(text.slice(at));
}
