/** One line of a curve chart. */
export interface CurveSeries {
  readonly label: string;
  readonly xs: ArrayLike<number>;
  readonly ys: ArrayLike<number>;
}

const COLOURS = ['#1b6ca8', '#e07b39', '#3a9d5d', '#9b59b6', '#c0392b', '#7f8c8d', '#d4ac0d', '#16a085'];

/**
 * A line chart of curves (deletion/insertion: fraction of features moved → score) as a standalone
 * SVG string, with a legend; no DOM needed.
 */
export function curveSvg(title: string, series: readonly CurveSeries[], axes: { readonly x: string; readonly y: string } = { x: 'fraction of features moved', y: 'score' }): string {
  const [w, h, left, top, right, bottom] = [520, 300, 56, 28, 150, 40];
  const all = series.flatMap((s) => Array.from(s.ys));
  let [lo, hi] = [Math.min(...all), Math.max(...all)];
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const px = (x: number) => left + x * (w - left - right);
  const py = (y: number) => top + (1 - (y - lo) / (hi - lo)) * (h - top - bottom);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`, `<text x="${left}" y="16" font-weight="bold">${esc(title)}</text>`];
  parts.push(`<line x1="${left}" y1="${py(lo)}" x2="${px(1)}" y2="${py(lo)}" stroke="#888"/><line x1="${left}" y1="${top}" x2="${left}" y2="${py(lo)}" stroke="#888"/>`);
  for (const t of [0, 0.5, 1]) parts.push(`<text x="${px(t)}" y="${py(lo) + 14}" text-anchor="middle">${t}</text>`);
  for (const v of [lo, (lo + hi) / 2, hi]) parts.push(`<text x="${left - 4}" y="${py(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`);
  parts.push(`<text x="${px(0.5)}" y="${h - 6}" text-anchor="middle">${esc(axes.x)}</text>`);
  series.forEach((s, k) => {
    const pts = Array.from(s.xs, (x, i) => `${px(x).toFixed(1)},${py(s.ys[i]!).toFixed(1)}`).join(' ');
    const colour = COLOURS[k % COLOURS.length]!;
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.6" points="${pts}"/>`);
    parts.push(`<rect x="${w - right + 10}" y="${top + k * 16}" width="10" height="10" fill="${colour}"/><text x="${w - right + 24}" y="${top + k * 16 + 9}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
