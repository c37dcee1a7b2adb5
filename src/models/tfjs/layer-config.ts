// Readers of tfjs-layers config values (a number or a per-dim list).

/** A 2-D setting (pool size, strides, dilation) as [h, w]. */
export function pair(v: unknown, dflt: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0] ?? dflt), Number(v[1] ?? v[0] ?? dflt)];
  if (typeof v === 'number') return [v, v];
  return [dflt, dflt];
}

/** A 1-D setting (pool size, stride, dilation). */
export function first(v: unknown, dflt: number): number {
  if (Array.isArray(v)) return Number(v[0] ?? dflt);
  if (typeof v === 'number') return v;
  return dflt;
}
