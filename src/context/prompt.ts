import { InvalidArgumentError } from '../core/errors.js';
import type { SourceSpan } from '../core/result.js';

/** The default prompt: the response follows it directly. */
export const DEFAULT_TEMPLATE = 'Context: {context}\n\nQuery: {query}\n\nAnswer: ';

/** How an ablated source is treated: removed, or replaced by a fixed text (e.g. "[removed]"). */
export interface AblationOptions {
  /** Text put in place of an ablated source; default '' (the source is removed). */
  readonly replacement?: string;
}

/**
 * Builds prompts for ablated contexts: the template with `{context}` (the kept sources, everything
 * between sources unchanged) and `{query}` filled in. The response is not part of the prompt; the
 * scorer appends it.
 */
export class PromptBuilder {
  private readonly parts: readonly [string, string];
  private readonly replacement: string;

  /**
   * @throws {InvalidArgumentError} `invalid_argument` when the template lacks `{context}` or holds it
   * more than once.
   */
  constructor(
    readonly context: string,
    readonly sources: readonly SourceSpan[],
    readonly query: string,
    template: string = DEFAULT_TEMPLATE,
    opts: AblationOptions = {},
  ) {
    const fn = 'PromptBuilder';
    const pieces = template.split('{context}');
    if (pieces.length !== 2) {
      throw new InvalidArgumentError(`Argument 'template' passed to '${fn}' must contain '{context}' exactly once, found it ${pieces.length - 1} times`, { arg: 'template', fn });
    }
    // the query goes in with a function replacement, so '$' in it is literal
    const fill = (s: string) => s.split('{query}').join(query);
    this.parts = [fill(pieces[0]!), fill(pieces[1]!)];
    this.replacement = opts.replacement ?? '';
  }

  /** The context with the sources whose `keep` entry is 0 removed (or replaced). */
  ablatedContext(keep: ArrayLike<number>): string {
    let out = '';
    let at = 0;
    for (let i = 0; i < this.sources.length; i++) {
      if (keep[i]) continue;
      const s = this.sources[i]!;
      out += this.context.slice(at, s.start) + this.replacement;
      at = s.end;
    }
    return out + this.context.slice(at);
  }

  /** The prompt for a keep-mask over the sources (1 = kept). */
  prompt(keep: ArrayLike<number>): string {
    return this.parts[0] + this.ablatedContext(keep) + this.parts[1];
  }
}
