import { InvalidArgumentError } from '../core/errors.js';
import type { SourceSpan } from '../core/result.js';

/** How a context is split into sources. */
export type SourceUnit = 'sentences' | 'lines' | 'paragraphs';

/** The values of `--sources`. */
export const SOURCE_UNITS: readonly SourceUnit[] = ['sentences', 'lines', 'paragraphs'];

/** Largest context accepted (characters): a bound on every prompt built from it. */
export const MAX_CONTEXT_CHARS = 4_000_000;

/** Most sources a context may be split into (each is one player of the ablation game). */
export const MAX_SOURCES = 4096;

/**
 * Splits `context` into sources with their character offsets: `sentences` (ends at `.`, `!`, `?` or `…`
 * followed by white space, or at a blank line), `lines` (non-blank lines) or `paragraphs` (blocks
 * separated by blank lines). Spans never include the white space between sources, so removing a span
 * leaves the separators in place. `source` names each span `s0`, `s1`, … in order.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when the context is empty (or only white space),
 * longer than {@link MAX_CONTEXT_CHARS}, or splits into more than {@link MAX_SOURCES} sources.
 */
export function splitSources(context: string, unit: SourceUnit = 'sentences'): SourceSpan[] {
  const fn = 'splitSources';
  assertContext(context, fn);
  if (!SOURCE_UNITS.includes(unit)) throw new InvalidArgumentError(`Argument 'unit' passed to '${fn}' must be one of ${SOURCE_UNITS.join(', ')}, got ${JSON.stringify(unit)}`, { arg: 'unit', fn });
  // blank lines may hold spaces, tabs and \r (Windows line ends)
  const boundary = unit === 'paragraphs' ? /\n[ \t\r]*\n\s*/g : unit === 'lines' ? /\n\s*/g : /(?<=[.!?…]["'”’)\]]*)\s+|\n[ \t\r]*\n\s*/g;
  const spans: SourceSpan[] = [];
  let from = 0;
  const push = (start: number, end: number): void => {
    // trim white space at both ends; skip empty pieces
    while (start < end && /\s/.test(context[start]!)) start++;
    while (end > start && /\s/.test(context[end - 1]!)) end--;
    if (end > start) spans.push({ source: `s${spans.length}`, start, end, text: context.slice(start, end) });
  };
  for (const m of context.matchAll(boundary)) {
    push(from, m.index);
    from = m.index + m[0].length;
    if (spans.length > MAX_SOURCES) break;
  }
  push(from, context.length);
  if (spans.length > MAX_SOURCES) {
    throw new InvalidArgumentError(`Argument 'context' passed to '${fn}' splits into more than ${MAX_SOURCES} ${unit}; split it coarser (paragraphs) or pass fewer spans`, { arg: 'context', fn, unit });
  }
  return spans;
}

/**
 * Checks caller-given spans (documents, chat turns) against the context: integer offsets inside it,
 * non-empty, in increasing order and not overlapping. Fills in each span's `text`.
 *
 * @throws {InvalidArgumentError} `invalid_argument` naming the first bad span.
 */
export function checkSpans(context: string, spans: readonly SourceSpan[]): SourceSpan[] {
  const fn = 'checkSpans';
  assertContext(context, fn);
  if (spans.length === 0 || spans.length > MAX_SOURCES) {
    throw new InvalidArgumentError(`Argument 'spans' passed to '${fn}' must hold 1 to ${MAX_SOURCES} spans, got ${spans.length}`, { arg: 'spans', fn });
  }
  let last = 0;
  return spans.map((s, i) => {
    const ok = Number.isSafeInteger(s.start) && Number.isSafeInteger(s.end) && s.start >= last && s.end > s.start && s.end <= context.length;
    if (!ok) {
      throw new InvalidArgumentError(`Argument 'spans' passed to '${fn}' must hold non-empty, ordered, non-overlapping [start, end) inside the context (length ${context.length}); span ${i} is [${s.start}, ${s.end})`, { arg: 'spans', fn, index: i });
    }
    last = s.end;
    return { source: s.source, start: s.start, end: s.end, text: context.slice(s.start, s.end) };
  });
}

function assertContext(context: string, fn: string): void {
  if (typeof context !== 'string' || context.trim() === '') {
    throw new InvalidArgumentError(`Argument 'context' passed to '${fn}' must be a non-empty text; there is nothing to attribute to`, { arg: 'context', fn });
  }
  if (context.length > MAX_CONTEXT_CHARS) {
    throw new InvalidArgumentError(`Argument 'context' passed to '${fn}' must be at most ${MAX_CONTEXT_CHARS} characters, got ${context.length}`, { arg: 'context', fn });
  }
}
