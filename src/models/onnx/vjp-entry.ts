// The graph store's entries: a compiled backward graph with its output dims, and the hash keys name them by.

/** SHA-256 of `bytes`, in hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A stored entry: 4-byte little-endian header length, the JSON header (output dims), the VJP graph. */
export function packEntry(graph: Uint8Array, outputDims: readonly number[]): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ outputDims }));
  const out = new Uint8Array(4 + header.length + graph.length);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  out.set(graph, 4 + header.length);
  return out;
}

/** The graph and output dims of an entry, or undefined when it is not one. */
export function unpackEntry(raw: Uint8Array): { graph: Uint8Array; outputDims: readonly number[] } | undefined {
  if (raw.length < 4) return undefined;
  const n = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(0, true);
  if (4 + n > raw.length) return undefined;
  const header: unknown = JSON.parse(new TextDecoder().decode(raw.subarray(4, 4 + n)));
  const dims = (header as { outputDims?: unknown } | null)?.outputDims;
  if (!Array.isArray(dims) || dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 0)) return undefined;
  return { graph: raw.subarray(4 + n), outputDims: dims as number[] };
}
