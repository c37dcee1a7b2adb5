// Token ids from either an id-list flag or a text flag (encoded with the model folder's tokenizer.json).
import { InvalidArgumentError } from '../core/errors.js';
import { loadTokenizer } from '../io/load-tokenizer.js';
import type { TextTokenizer } from '../models/transformer/tokenizer.js';
import type { FlagValue } from './args.js';

/** Loads the folder's tokenizer once, the first time a text flag needs it. */
export function lazyTokenizer(dir: string): () => Promise<TextTokenizer> {
  let t: Promise<TextTokenizer> | undefined;
  return () => (t ??= loadTokenizer(dir));
}

/**
 * The ids of `--{ids}` or the encoding of `--{text}` (not both). `single`: the text must be one token
 * (an answer), encoded without special tokens. Undefined when neither flag is given.
 */
export async function idsOrText(
  flags: ReadonlyMap<string, FlagValue>,
  names: { readonly ids: string; readonly text: string },
  tokenizer: () => Promise<TextTokenizer>,
  command: string,
  opts: { readonly addSpecialTokens?: boolean } = {},
): Promise<number[] | undefined> {
  const ids = flags.get(names.ids) as number[] | number | undefined;
  const text = flags.get(names.text) as string | undefined;
  if (ids !== undefined && text !== undefined) throw new InvalidArgumentError(`'attrib ${command}' takes --${names.ids} or --${names.text}, not both`, { arg: names.text });
  if (ids !== undefined) return typeof ids === 'number' ? [ids] : ids;
  if (text === undefined) return undefined;
  return (await tokenizer()).encode(text, { addSpecialTokens: opts.addSpecialTokens ?? true, arg: names.text });
}

/** One token id from `--{id}` or a `--{text}` that must encode (without special tokens) to exactly one token. */
export async function idOrText(flags: ReadonlyMap<string, FlagValue>, names: { readonly ids: string; readonly text: string }, tokenizer: () => Promise<TextTokenizer>, command: string): Promise<number | undefined> {
  const ids = await idsOrText(flags, names, tokenizer, command, { addSpecialTokens: false });
  if (ids === undefined) return undefined;
  if (ids.length !== 1) {
    const tk = await tokenizer();
    throw new InvalidArgumentError(`Option '--${names.text}' of 'attrib ${command}' must be one token; it encodes to ${ids.length} (${tk.tokenStrings(ids).join(' | ')}): pass the id with --${names.ids}`, { arg: names.text, tokens: ids.length });
  }
  return ids[0]!;
}
