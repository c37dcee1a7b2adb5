/**
 * Typed errors. Every error the library throws for bad input is an `AttributionError` with a `code`
 * (a discriminant the CLI maps to an exit status) and `details` (the argument, function and values
 * involved). Messages follow one template: "Argument 'x' passed to 'fn' must be …, got …".
 */
export type ErrorCode =
  | 'invalid_argument'
  | 'shape_mismatch'
  | 'capability_missing'
  | 'budget_exceeded'
  | 'aborted'
  | 'unknown_hook'
  | 'unknown_method'
  | 'invalid_model'
  | 'invalid_file'
  | 'backend_failure';

export class AttributionError extends Error {
  override name = 'AttributionError';
  readonly details: Readonly<Record<string, unknown>>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.details = Object.freeze({ ...opts.details });
  }
}

export class InvalidArgumentError extends AttributionError {
  override name = 'InvalidArgumentError';
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('invalid_argument', message, { details, cause });
  }
}

export class ShapeMismatchError extends AttributionError {
  override name = 'ShapeMismatchError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('shape_mismatch', message, { details });
  }
}

export class CapabilityError extends AttributionError {
  override name = 'CapabilityError';
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('capability_missing', message, { details, cause });
  }
}

export class BudgetExceededError extends AttributionError {
  override name = 'BudgetExceededError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('budget_exceeded', message, { details });
  }
}

export class AbortedError extends AttributionError {
  override name = 'AbortedError';
  constructor(fn: string, cause?: unknown) {
    super('aborted', `'${fn}' was aborted by its AbortSignal`, { details: { fn }, cause });
  }
}

export class UnknownMethodError extends AttributionError {
  override name = 'UnknownMethodError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('unknown_method', message, { details });
  }
}

export class UnknownHookError extends AttributionError {
  override name = 'UnknownHookError';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('unknown_hook', message, { details });
  }
}

export class ModelLoadError extends AttributionError {
  override name = 'ModelLoadError';
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('invalid_model', message, { details, cause });
  }
}

export class FileFormatError extends AttributionError {
  override name = 'FileFormatError';
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('invalid_file', message, { details, cause });
  }
}

export class BackendError extends AttributionError {
  override name = 'BackendError';
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('backend_failure', message, { details, cause });
  }
}

export const isAttributionError = (e: unknown): e is AttributionError => e instanceof AttributionError;

/** Exit status for the CLI: 2 for anything the user can fix, 1 for internal failures. */
export function exitCodeFor(e: unknown): 1 | 2 {
  if (!isAttributionError(e)) return 1;
  return e.code === 'backend_failure' ? 1 : 2;
}
