// Seeded mutations of untrusted files: byte-level (bit flips, insert/delete/duplicate, truncation,
// interesting integers written over length fields, ASCII number tweaks) and JSON-structural (type
// swaps, huge or negative numbers, deep nesting, long strings, dropped or repeated members).
import { Rng } from '../../src/core/random.js';

/** Integers that break length fields and dimensions: 0, ±1, boundaries of 8/16/32/53/64-bit ranges. */
const INTERESTING = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 53 - 1, 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 1];
/** Text numbers spliced into headers and JSON. */
const NUMBER_TEXT = ['0', '-1', '-0', '1e308', '1e400', '-1e400', '9007199254740993', '18446744073709551615', '4294967296', '2147483648', '0.5', 'NaN', '1e-400', '65536', '99999999999'];

/** Largest text a JSON mutation adds (characters); long-string and repeat mutations stay below it. */
const MAX_TEXT = 4_000_000;

const int = (rng: Rng, n: number): number => Math.floor(rng.next() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!;

/** An offset biased toward the start of the file, where headers and length fields live. */
function offset(rng: Rng, len: number): number {
  if (len === 0) return 0;
  return rng.next() < 0.5 ? int(rng, Math.min(len, 64)) : int(rng, len);
}

function splice(b: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at), 0);
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

function writeInt(b: Uint8Array, at: number, value: number, width: 1 | 2 | 4 | 8, bigEndian: boolean): void {
  const out = b.slice();
  const v = BigInt(Math.floor(value)) & ((1n << BigInt(8 * width)) - 1n);
  for (let k = 0; k < width && at + k < out.length; k++) {
    const byte = Number((v >> BigInt(8 * k)) & 0xffn);
    out[bigEndian ? at + width - 1 - k : at + k] = byte;
  }
  b.set(out);
}

/** Replaces one ASCII digit run (a header number or a JSON number) with a hostile one. */
function tweakNumber(rng: Rng, b: Uint8Array): Uint8Array {
  const runs: [number, number][] = [];
  for (let i = 0; i < b.length && runs.length < 4096; i++) {
    if (b[i]! >= 0x30 && b[i]! <= 0x39) {
      let j = i;
      while (j < b.length && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
      runs.push([i, j]);
      i = j;
    }
  }
  if (runs.length === 0) return b;
  const [s, e] = pick(rng, runs);
  return splice(b, s, e - s, new TextEncoder().encode(pick(rng, NUMBER_TEXT)));
}

/** One byte-level mutation of `b` (a fresh array; `b` is not changed). */
export function mutateBytes(rng: Rng, b: Uint8Array): Uint8Array {
  const kind = int(rng, 9);
  const len = b.length;
  switch (kind) {
    case 0: {
      const out = b.slice();
      const flips = 1 + int(rng, 8);
      for (let k = 0; k < flips && len > 0; k++) {
        const at = offset(rng, len);
        out[at] = out[at]! ^ (1 << int(rng, 8));
      }
      return out;
    }
    case 1: {
      const ins = new Uint8Array(1 + int(rng, 16));
      for (let k = 0; k < ins.length; k++) ins[k] = int(rng, 256);
      return splice(b, offset(rng, len + 1), 0, ins);
    }
    case 2: {
      const at = offset(rng, len);
      return splice(b, at, Math.min(len - at, 1 + int(rng, 32)), new Uint8Array(0));
    }
    case 3: {
      const at = offset(rng, len);
      const piece = b.slice(at, at + 1 + int(rng, 64));
      const times = 1 + int(rng, 4);
      const rep = new Uint8Array(piece.length * times);
      for (let k = 0; k < times; k++) rep.set(piece, k * piece.length);
      return splice(b, offset(rng, len + 1), 0, rep);
    }
    case 4:
      return b.slice(0, int(rng, len + 1));
    case 5:
    case 6: {
      const out = b.slice();
      writeInt(out, offset(rng, len), pick(rng, INTERESTING), pick(rng, [1, 2, 4, 8] as const), rng.next() < 0.5);
      return out;
    }
    case 7:
      return tweakNumber(rng, b);
    default: {
      const out = b.slice();
      if (len > 0) out[offset(rng, len)] = pick(rng, [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5b, 0x7b, 0x2c]);
      return out;
    }
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container in `root` (with itself), for picking a place to mutate. */
function containers(root: Json): (Json[] | { [k: string]: Json })[] {
  const out: (Json[] | { [k: string]: Json })[] = [];
  const stack: Json[] = [root];
  while (stack.length > 0 && out.length < 10_000) {
    const v = stack.pop()!;
    if (v !== null && typeof v === 'object') {
      out.push(v);
      for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push(c);
    }
  }
  return out;
}

function hostileValue(rng: Rng, old: Json): Json {
  switch (int(rng, 12)) {
    case 0: return null;
    case 1: return pick(rng, [true, false]);
    case 2: return pick(rng, [-1, 0, -0.5, 1e308, -1e308, 2 ** 53 + 2, 2 ** 31, 2 ** 32, 1e9, 0.5, -(2 ** 31)]);
    case 3: return String(old);
    case 4: return 'x'.repeat(pick(rng, [0, 1, 1000, 100_000, 1_000_000]));
    case 5: return [];
    case 6: return {};
    case 7: return [old];
    case 8: return { value: old };
    case 9: {
      let v: Json = old;
      const depth = pick(rng, [10, 100, 1000, 10_000]);
      for (let d = 0; d < depth; d++) v = rng.next() < 0.5 ? [v] : { a: v };
      return v;
    }
    case 10: {
      // repeats kept under ~4 MB of text, so that the mutant (not the parser) never eats the memory
      const size = JSON.stringify(old)?.length ?? 4;
      return Array.from({ length: Math.min(pick(rng, [2, 100, 10_000]), Math.ceil(MAX_TEXT / size)) }, () => old);
    }
    default: return typeof old === 'number' ? -old : old;
  }
}

/** One structural mutation of the JSON text `text`, or undefined when it does not parse. */
export function mutateJson(rng: Rng, text: string): string | undefined {
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
  const all = containers(root);
  if (all.length === 0) return JSON.stringify(hostileValue(rng, root));
  const c = pick(rng, all);
  if (Array.isArray(c)) {
    if (c.length === 0 || rng.next() < 0.1) c.push(hostileValue(rng, c[0] ?? null));
    else {
      const i = int(rng, c.length);
      if (rng.next() < 0.15) c.splice(i, 1);
      else c[i] = hostileValue(rng, c[i]!);
    }
  } else {
    const keys = Object.keys(c);
    if (keys.length === 0 || rng.next() < 0.1) c[pick(rng, ['__proto__', 'constructor', 'shape', 'dtype', 'name', 'x'])] = hostileValue(rng, null);
    else {
      const k = pick(rng, keys);
      if (rng.next() < 0.15) delete c[k];
      else c[k] = hostileValue(rng, c[k]!);
    }
  }
  try {
    const out = JSON.stringify(root);
    return out.length > 2 * MAX_TEXT ? undefined : out;
  } catch {
    return undefined; // too deep to stringify: the byte mutations still cover the file
  }
}

/**
 * A mutant of `seed`: 1–3 stacked mutations, structural ones (when `json`) half of the time.
 * Deterministic in `rng`'s state.
 */
export function mutate(rng: Rng, seed: Uint8Array, json: boolean): Uint8Array {
  let b = seed;
  const rounds = 1 + int(rng, 3);
  for (let r = 0; r < rounds; r++) {
    if (json && rng.next() < 0.5) {
      const m = mutateJson(rng, new TextDecoder().decode(b));
      if (m !== undefined) {
        b = new TextEncoder().encode(m);
        continue;
      }
    }
    b = mutateBytes(rng, b);
  }
  return b;
}
