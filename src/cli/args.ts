import { InvalidArgumentError } from '../core/errors.js';

/** A flag a command accepts. `bool` flags take no value (`--abs`, `--no-abs`). */
export interface FlagSpec {
  readonly name: string;
  readonly type: 'string' | 'int' | 'number' | 'bool' | 'int-list' | 'number-list';
  readonly help: string;
  readonly default?: string | number | boolean;
  /** Smallest value of an `int`/`number` flag (and of each list entry). */
  readonly min?: number;
  /** Largest value of an `int`/`number` flag (and of each list entry). */
  readonly max?: number;
  /** The values a `string` flag allows. */
  readonly values?: readonly string[];
}

export type FlagValue = string | number | boolean | number[];

/** Splits argv into `--flag value` pairs; values may start with '-' (negative numbers) but not with '--'. */
export function tokenize(argv: readonly string[]): { positionals: string[]; raw: Map<string, string | true> } {
  const positionals: string[] = [];
  const raw = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      raw.set(a.slice(2, eq), a.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      raw.set(a.slice(2), next);
      i++;
    } else raw.set(a.slice(2), true);
  }
  return { positionals, raw };
}

/** Checks every flag against `specs` and converts its value; unknown flags are errors. */
export function parseFlags(raw: Map<string, string | true>, specs: readonly FlagSpec[], command: string): Map<string, FlagValue> {
  const out = new Map<string, FlagValue>();
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const [key, value] of raw) {
    const negated = key.startsWith('no-') && byName.get(key.slice(3))?.type === 'bool';
    const spec = byName.get(negated ? key.slice(3) : key);
    if (!spec) {
      throw new InvalidArgumentError(`Unknown option '--${key}' for 'attrib ${command}'; options: ${specs.map((s) => `--${s.name}`).join(' ')}`, { arg: key, command });
    }
    out.set(spec.name, convert(spec, negated ? false : value, command));
  }
  return out;
}

function convert(spec: FlagSpec, value: string | true | false, command: string): FlagValue {
  const bad = (what: string) =>
    new InvalidArgumentError(`Option '--${spec.name}' of 'attrib ${command}' must be ${what}, got ${value === true ? 'no value' : JSON.stringify(value)}`, {
      arg: spec.name,
      command,
      value,
    });
  if (spec.type === 'bool') {
    if (value === true || value === false) return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw bad('true or false (or given alone)');
  }
  if (value === true || value === false) throw bad(`a ${spec.type} value`);
  const range = (n: number): void => {
    if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
      throw bad(spec.max === undefined ? `at least ${spec.min}` : spec.min === undefined ? `at most ${spec.max}` : `between ${spec.min} and ${spec.max}`);
    }
  };
  // Number('') and Number(' ') are 0: an empty value is no number
  const num = (p: string): number => (p.trim() === '' ? NaN : Number(p));
  switch (spec.type) {
    case 'int': {
      const n = num(value);
      if (!Number.isSafeInteger(n)) throw bad('an integer');
      range(n);
      return n;
    }
    case 'number': {
      const n = num(value);
      if (!Number.isFinite(n)) throw bad('a number');
      range(n);
      return n;
    }
    case 'int-list': {
      const parts = value.split(',').map(num);
      if (parts.length === 0 || parts.some((p) => !Number.isSafeInteger(p))) throw bad('comma-separated integers, e.g. 4,4,3');
      parts.forEach(range);
      return parts;
    }
    case 'number-list': {
      const parts = value.split(',').map(num);
      if (parts.length === 0 || parts.some((p) => !Number.isFinite(p))) throw bad('comma-separated numbers, e.g. 0.05,0.1');
      parts.forEach(range);
      return parts;
    }
    default:
      if (value.trim() === '') throw bad('a non-empty value');
      if (spec.values && !spec.values.includes(value)) throw bad(`one of ${spec.values.join(', ')}`);
      return value;
  }
}

/**
 * The help lines of `specs` (for `attrib <command> --help`): each flag with its value type, allowed
 * values, range and default, wrapped to `width` columns.
 */
export function flagHelp(specs: readonly FlagSpec[], width = 100): string {
  const lines: string[] = [];
  for (const s of specs) {
    const kind = s.type === 'bool' ? '' : s.values ? ` ${s.values.join('|')}` : ` ${VALUE_NAMES[s.type]}`;
    const head = `  --${s.name}${kind}`;
    const extra = [
      s.min !== undefined && s.max !== undefined ? `${s.min} to ${s.max}` : s.min !== undefined ? `at least ${s.min}` : s.max !== undefined ? `at most ${s.max}` : '',
      s.default !== undefined ? `default ${String(s.default)}` : '',
    ].filter(Boolean);
    const text = `${s.help}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}`;
    if (head.length <= 26) lines.push(...wrap(text, width - 28).map((l, i) => `${(i === 0 ? head : '').padEnd(28)}${l}`));
    else lines.push(head.length <= width ? head : `${head.slice(0, width - 1)}…`, ...wrap(text, width - 28).map((l) => `${''.padEnd(28)}${l}`));
  }
  return lines.join('\n');
}

const VALUE_NAMES: Record<FlagSpec['type'], string> = { string: 'VALUE', int: 'N', number: 'X', bool: '', 'int-list': 'N,N,…', 'number-list': 'X,X,…' };

/** Greedy word wrap to `width` columns (a word longer than `width` is cut). */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const w = word.length > width ? `${word.slice(0, width - 1)}…` : word;
    if (line === '') line = w;
    else if (line.length + 1 + w.length <= width) line += ` ${w}`;
    else (out.push(line), (line = w));
  }
  if (line !== '' || out.length === 0) out.push(line);
  return out;
}

/** `featureMask` → `feature-mask`. */
export const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
