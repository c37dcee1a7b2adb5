import { BudgetExceededError, InvalidArgumentError } from '../../core/errors.js';
import type { HostTensor } from '../../models/model.js';
import type { TransformerConfig } from '../../models/transformer/config.js';
import type { OffsetToken } from '../../models/transformer/word-level-tokenizer.js';
import type { TokenInput } from '../../models/transformer/tokens.js';
import type { LogProbApi, ScoringClient, TokenScore } from './tokens.js';

/** A language model run locally: logits [batch, pos, vocab] for a batch of equal-length token rows. */
export interface LocalLanguageModel {
  readonly name: string;
  readonly config: TransformerConfig;
  run(tokens: TokenInput): Promise<HostTensor>;
}

/** Text → tokens with character offsets, and ids → text (`WordLevelTokenizer`). */
export interface OffsetTokenizer {
  encode(text: string): OffsetToken[];
  decode(ids: readonly number[]): string;
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
 * logits and positions stay those of the unpadded text. The shared prefix of the prompts is recomputed
 * in every row (no KV cache). A response token's log-probability is the log-softmax of the logits at the
 * token before it.
 *
 * Cost: ⌈prompts / batchSize⌉ forward runs of batchSize × L tokens (L: the longest prompt + response).
 */
export class LocalLmApi implements LogProbApi {
  readonly api = 'local' as const;
  readonly client: RunCounter;
  readonly model: string;
  private readonly batchSize: number;
  private readonly padId: number;
  private readonly maxLogitBytes: number;
  private readonly eosId: number | undefined;
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
    this.batchSize = opts.batchSize ?? 32;
    this.padId = opts.padId ?? 0;
    this.maxLogitBytes = opts.maxLogitBytes ?? 2 ** 28;
    this.eosId = opts.eosId;
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
    return out.length === 0 ? '' : `${/\s$/.test(prompt) ? '' : ' '}${this.tokenizer.decode(out)}`;
  }

  private maxLength(): number {
    return this.lm.config.family === 'gpt2' ? this.lm.config.maxPositions : Number.MAX_SAFE_INTEGER;
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
      const len = Math.min(cap, Math.ceil(longest / 8) * 8);
      const v = this.lm.config.vocabSize;
      const bytes = batch.length * len * v * 4;
      if (bytes > this.maxLogitBytes) {
        throw new InvalidArgumentError(`One forward run would return ${bytes} bytes of logits (${batch.length} prompts × ${len} tokens × ${v}), over the cap of ${this.maxLogitBytes}; lower the batch size`, { bytes, cap: this.maxLogitBytes });
      }
      const padded = rows.map((r) => [...r.ids, ...new Array<number>(len - r.ids.length).fill(this.padId)]);
      this.spend(1);
      const { data } = await this.lm.run(padded);
      rows.forEach((r, b) => {
        const scores = r.response.map((t): TokenScore => {
          const at = (b * len + t.index - 1) * v;
          const logits = data.subarray(at, at + v);
          return { start: t.start, end: t.end, logprob: logSoftmaxAt(logits, r.ids[t.index]!) };
        });
        batch[b]!.resolve(scores);
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
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
