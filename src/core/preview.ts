/**
 * A short JSON-like rendering of an untrusted value for an error message: at most `max` characters
 * (then `…`), built without stringifying the whole value, so that a malformed file holding a
 * megabyte string or a value nested ten thousand deep yields a one-line message in O(max) time.
 * Cost: O(max) (long strings are sliced, objects and arrays walked only until the budget is spent).
 */
export function preview(value: unknown, max = 80): string {
  let out = '';
  const walk = (x: unknown): boolean => {
    if (out.length > max) return false;
    if (Array.isArray(x)) {
      out += '[';
      for (let i = 0; i < x.length; i++) {
        if (i > 0) out += ',';
        if (!walk(x[i])) return false;
      }
      out += ']';
    } else if (typeof x === 'object' && x !== null) {
      out += '{';
      let first = true;
      for (const k in x) {
        if (!Object.hasOwn(x, k)) continue;
        out += `${first ? '' : ','}${JSON.stringify(k.slice(0, max))}:`;
        first = false;
        if (!walk((x as Record<string, unknown>)[k])) return false;
      }
      out += '}';
    } else if (typeof x === 'string') out += JSON.stringify(x.length > max ? x.slice(0, max + 1) : x);
    else out += String(x);
    return out.length <= max;
  };
  walk(value);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
