import { BudgetExceededError, InvalidArgumentError } from '../../core/errors.js';
import type { HostTensor } from '../../models/model.js';
import type { TransformerConfig } from '../../models/transformer/config.js';
import type { OffsetToken } from '../../models/transformer/word-level-tokenizer.js';
import type { PastKeyValues } from '../../models/transformer/past.js';
import type { TokenInput } from '../../models/transformer/tokens.js';
import type { LogProbApi, ScoringClient, TokenScore } from './tokens.js';

/**
 * A language model run locally: logits [batch, pos, vocab] for a batch of equal-length token rows;
 * with `prefill` and `runWithPast` (HookedTransformer has them) a prefix shared by a batch is computed once.
 */
export interface LocalLanguageModel {
  readonly name: string;
  readonly config: TransformerConfig;
  run(tokens: TokenInput): Promise<HostTensor>;
  prefill?(tokens: readonly number[]): Promise<PastKeyValues>;
  runWithPast?(tokens: TokenInput, past: PastKeyValues): Promise<HostTensor>;
}

/** Text → tokens with character offsets, and ids → text (`WordLevelTokenizer`, or a Hugging Face `TextTokenizer`'s `encodeWithOffsets`). */
export interface OffsetTokenizer {
  encode(text: string): OffsetToken[];
  decode(ids: readonly number[]): string;
  /**
   * The text `generated` ids add after `prompt` ids, when the tokens carry their own spaces (BPE);
   * without it the generated words are joined after one space (word-level tokens).
   */
  continuation?(prompt: readonly number[], generated: readonly number[]): string;
}

export interface LocalLmOptions {
  /** Prompts scored in one forward run (right-padded to a common length). Default 32. */
  readonly batchSize?: number;
  /** Forward runs allowed (the run's budget, as `maxRequests` for servers). */
  readonly maxRuns?: number;
  /** Token id used for padding (never attended: attention is causal and pads follow the text). Default 0. */
  readonly padId?: number;
  /** Token id that ends a generation (the config's eos_token_id). Default none. */
  readonly eosId?: number;
  /** Most bytes of logits one forward run may return. Default 256 MiB. */
  readonly maxLogitBytes?: number;
  /**
   * Reuse the keys and values of the token prefix that all prompts of a batch share, when it has at
   * least this many tokens (and the model has `prefill`/`runWithPast`); 0 turns it off. Default 16.
   */
  readonly sharedPrefix?: number;
}

interface Pending {
  readonly prompt: string;
  readonly response: string;
  readonly resolve: (t: TokenScore[]) => void;
  readonly reject: (e: unknown) => void;
}

/** Counts forward runs as a server client counts requests. */
class RunCounter implements ScoringClient {
  requests = 0;
  constructor(
    readonly endpoint: string,
    readonly concurrency: number,
    readonly maxRequests: number | undefined,
  ) {}
}

/**
 * Scores a fixed response after many prompts with a local language model (attrib's transformer of
 * `loadTransformer`): the prompts that arrive together (the ablation game keeps `batchSize` in flight)
 * are tokenized with offsets, right-padded to one length (a multiple of 8, so few graph variants are
 * built) and scored in ONE forward run; attention is causal, so the pads after a row change none of its
 * logits and positions stay those of the unpadded text. The token prefix all prompts of a batch share
 * (at least `sharedPrefix` tokens) is computed once (`prefill`) and the rows run only their suffixes
 * (`runWithPast`); the last prefix is kept for later batches that share it. A response token's
 * log-probability is the log-softmax of the logits at the token before it.
 *
 * Cost: ⌈prompts / batchSize⌉ forward runs of batchSize × (L − P) tokens (L: the longest prompt +
 * response, P: the shared prefix), plus one run of the P prefix tokens when a new prefix is computed.
 */
export class LocalLmApi implements LogProbApi {
  readonly api = 'local' as const;
  readonly client: RunCounter;
  readonly model: string;
  private readonly batchSize: number;
  private readonly padId: number;
  private readonly maxLogitBytes: number;
  private readonly eosId: number | undefined;
  private readonly sharedPrefix: number;
  /** The last prefix computed, or being computed (a batch whose shared prefix starts it reuses a slice of it). */
  private past: { readonly tokens: readonly number[]; readonly kv: Promise<PastKeyValues> } | undefined;
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly lm: LocalLanguageModel,
    private readonly tokenizer: OffsetTokenizer,
    opts: LocalLmOptions = {},
  ) {
    const fn = 'LocalLmApi';
    const int = (v: number | undefined, arg: string, min: number, max: number): void => {
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= min && v <= max)) {
        throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must be an integer from ${min} to ${max}, got ${v}`, { arg, fn });
      }
    };
    int(opts.batchSize, 'batchSize', 1, 4096);
    int(opts.maxRuns, 'maxRuns', 1, Number.MAX_SAFE_INTEGER);
    int(opts.padId, 'padId', 0, lm.config.vocabSize - 1);
    int(opts.sharedPrefix, 'sharedPrefix', 0, Number.MAX_SAFE_INTEGER);
    this.batchSize = opts.batchSize ?? 32;
    this.padId = opts.padId ?? 0;
    this.maxLogitBytes = opts.maxLogitBytes ?? 2 ** 28;
    this.eosId = opts.eosId;
    this.sharedPrefix = opts.sharedPrefix ?? 16;
    this.model = lm.name;
    this.client = new RunCounter(`local:${lm.name}`, this.batchSize, opts.maxRuns);
  }

  requestsPerPrompt(_tokens: number): number {
    return 1; // an upper bound: a prompt costs at most one forward run (1 / batchSize when batched)
  }

  responseTokens(prompt: string, response: string): Promise<TokenScore[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ prompt, response, resolve, reject });
      if (this.queue.length >= this.batchSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Greedy continuation: one forward run per token; stops at the EOS token or after a token ending in '.', '!' or '?'. */
  async generate(prompt: string, maxTokens: number): Promise<string> {
    const ids = this.tokenizer.encode(prompt).map((t) => t.id);
    const promptIds = [...ids];
    if (ids.length === 0) throw new InvalidArgumentError('The prompt tokenizes to nothing; give a context and query', { arg: 'prompt' });
    const out: number[] = [];
    const v = this.lm.config.vocabSize;
    while (out.length < maxTokens && ids.length < this.maxLength()) {
      this.spend(1);
      const { data } = await this.lm.run(ids);
      const row = data.subarray((ids.length - 1) * v, ids.length * v);
      let best = 0;
      for (let i = 1; i < v; i++) if (row[i]! > row[best]!) best = i;
      if (best === this.eosId) break;
      ids.push(best), out.push(best);
      if (/[.!?]$/.test(this.tokenizer.decode([best]))) break;
    }
    if (out.length === 0) return '';
    if (this.tokenizer.continuation) return this.tokenizer.continuation(promptIds, out);
    return `${/\s$/.test(prompt) ? '' : ' '}${this.tokenizer.decode(out)}`;
  }

  private maxLength(): number {
    return this.lm.config.maxPositions;
  }

  private spend(runs: number): void {
    const c = this.client;
    if (c.maxRequests !== undefined && c.requests + runs > c.maxRequests) {
      throw new BudgetExceededError(`The run needs more than its budget of ${c.maxRequests} forward runs of the local model; raise maxRuns (--max-requests) or lower the ablations`, { maxRequests: c.maxRequests });
    }
    c.requests += runs;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.batchSize);
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length > 0) void this.score(batch);
  }

  private async score(batch: readonly Pending[]): Promise<void> {
    try {
      const rows = batch.map((p) => this.tokenize(p.prompt, p.response));
      const longest = Math.max(...rows.map((r) => r.ids.length));
      const cap = this.maxLength();
      if (longest > cap) {
        throw new InvalidArgumentError(`A prompt with its response has ${longest} tokens; the local model has ${cap} positions; shorten the context or the response`, { tokens: longest, maxPositions: cap });
      }
      const past = await this.pastFor(rows);
      const P = past?.length ?? 0;
      const len = Math.min(cap - P, Math.ceil((longest - P) / 8) * 8);
      const v = this.lm.config.vocabSize;
      const bytes = batch.length * len * v * 4;
      if (bytes > this.maxLogitBytes) {
        throw new InvalidArgumentError(`One forward run would return ${bytes} bytes of logits (${batch.length} prompts × ${len} tokens × ${v}), over the cap of ${this.maxLogitBytes}; lower the batch size`, { bytes, cap: this.maxLogitBytes });
      }
      const padded = rows.map((r) => [...r.ids.slice(P), ...new Array<number>(len - r.ids.length + P).fill(this.padId)]);
      this.spend(1);
      const { data } = past ? await this.lm.runWithPast!(padded, past) : await this.lm.run(padded);
      rows.forEach((r, b) => {
        const scores = r.response.map((t): TokenScore => {
          const at = (b * len + t.index - 1 - P) * v;
          const logits = data.subarray(at, at + v);
          return { start: t.start, end: t.end, logprob: logSoftmaxAt(logits, r.ids[t.index]!) };
        });
        batch[b]!.resolve(scores);
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }

  /**
   * The cached keys and values of the prefix all `rows` share (up to the token before the first
   * response token: its logits are needed), when it is long enough: a slice of the last prefix
   * computed if that one starts with it, else computed now (one forward run) and kept.
   */
  private async pastFor(rows: readonly { ids: number[]; response: { index: number }[] }[]): Promise<PastKeyValues | undefined> {
    if (rows.length < 2 || this.sharedPrefix === 0 || !this.lm.prefill || !this.lm.runWithPast) return undefined;
    const first = rows[0]!.ids;
    let P = Math.min(...rows.map((r) => (r.response[0]?.index ?? r.ids.length) - 1));
    for (const r of rows) {
      let i = 0;
      while (i < P && r.ids[i] === first[i]) i++;
      P = i;
    }
    if (P < this.sharedPrefix) return undefined;
    const cached = this.past;
    if (cached && cached.tokens.length >= P && first.slice(0, P).every((id, i) => cached.tokens[i] === id)) {
      const kv = await cached.kv;
      return kv.length === P ? kv : kv.slice(P);
    }
    this.spend(1);
    const tokens = first.slice(0, P);
    const kv = this.lm.prefill(tokens);
    this.past = { tokens, kv };
    kv.catch(() => {
      if (this.past?.kv === kv) this.past = undefined;
    });
    return kv;
  }

  /** Token ids of prompt + response and the tokens overlapping the response (offsets relative to its start). */
  private tokenize(prompt: string, response: string): { ids: number[]; response: { index: number; start: number; end: number }[] } {
    const toks = this.tokenizer.encode(prompt + response);
    const from = prompt.length;
    const resp = toks.flatMap((t, index) => (t.end > from ? [{ index, start: t.start - from, end: t.end - from }] : []));
    if (resp.length > 0 && resp[0]!.index === 0) {
      throw new InvalidArgumentError('The response starts the text (the prompt tokenizes to nothing), so its first token has no log-probability; give a context and query', { arg: 'prompt' });
    }
    return { ids: toks.map((t) => t.id), response: resp };
  }
}

/** log softmax(logits)[id], stable. */
function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  return logits[id]! - max - Math.log(sum);
}
