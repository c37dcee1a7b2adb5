/** Metadata values as strings (JSON for the others, at most 1 MiB each), or undefined when there are none. */
export function stringEntries(meta: unknown): Readonly<Record<string, string>> | undefined {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    const text = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
    if (text.length <= 1 << 20) out[k] = text;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
