/** Colormaps: a value in [0, 1] (sequential) or [−1, 1] (diverging) → RGB bytes. Pure data, no DOM. */
export type ColormapName = 'diverging' | 'viridis' | 'gray';

type Stop = readonly [number, number, number, number]; // position, r, g, b

// Blue (negative) → white (zero) → red (positive), after ColorBrewer RdBu.
const DIVERGING: readonly Stop[] = [
  [0, 5, 48, 97],
  [0.25, 67, 147, 195],
  [0.5, 247, 247, 247],
  [0.75, 214, 96, 77],
  [1, 103, 0, 31],
];
// Perceptually uniform sequential map (anchor points of matplotlib's viridis).
const VIRIDIS: readonly Stop[] = [
  [0, 68, 1, 84],
  [0.25, 59, 82, 139],
  [0.5, 33, 145, 140],
  [0.75, 94, 201, 98],
  [1, 253, 231, 37],
];
const GRAY: readonly Stop[] = [
  [0, 0, 0, 0],
  [1, 255, 255, 255],
];

const STOPS: Record<ColormapName, readonly Stop[]> = { diverging: DIVERGING, viridis: VIRIDIS, gray: GRAY };

/** RGB of `v`: v in [−1, 1] for 'diverging', [0, 1] otherwise (clamped). */
export function colorOf(name: ColormapName, v: number): [number, number, number] {
  const t = name === 'diverging' ? (clamp(v, -1, 1) + 1) / 2 : clamp(v, 0, 1);
  const stops = STOPS[name];
  let i = 1;
  while (i < stops.length - 1 && t > stops[i]![0]) i++;
  const [p0, r0, g0, b0] = stops[i - 1]!;
  const [p1, r1, g1, b1] = stops[i]!;
  const u = p1 === p0 ? 0 : (t - p0) / (p1 - p0);
  return [Math.round(r0 + u * (r1 - r0)), Math.round(g0 + u * (g1 - g0)), Math.round(b0 + u * (b1 - b0))];
}

const clamp = (v: number, lo: number, hi: number): number => (Number.isNaN(v) ? 0 : Math.min(hi, Math.max(lo, v)));
