import { InvalidArgumentError } from '../core/errors.js';

/** A flag a command accepts. `bool` flags take no value (`--abs`, `--no-abs`). */
export interface FlagSpec {
  readonly name: string;
  readonly type: 'string' | 'int' | 'number' | 'bool' | 'int-list' | 'number-list';
  readonly help: string;
  readonly default?: string | number | boolean;
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
  switch (spec.type) {
    case 'int': {
      const n = Number(value);
      if (!Number.isInteger(n)) throw bad('an integer');
      return n;
    }
    case 'number': {
      const n = Number(value);
      if (!Number.isFinite(n)) throw bad('a number');
      return n;
    }
    case 'int-list': {
      const parts = value.split(',').map((p) => Number(p.trim()));
      if (parts.length === 0 || parts.some((p) => !Number.isInteger(p))) throw bad('comma-separated integers, e.g. 4,4,3');
      return parts;
    }
    case 'number-list': {
      const parts = value.split(',').map((p) => Number(p.trim()));
      if (parts.length === 0 || parts.some((p) => !Number.isFinite(p))) throw bad('comma-separated numbers, e.g. 0.05,0.1');
      return parts;
    }
    default:
      return value;
  }
}

/** `featureMask` → `feature-mask`. */
export const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
