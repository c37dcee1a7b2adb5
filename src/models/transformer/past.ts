// Running a transformer on tokens that continue a cached prefix (its keys and values computed once):
// the sessions of the graphs built with a past (graph.ts, `pastLen` > 0).
import type * as Ort from 'onnxruntime-node';
import { BackendError, InvalidArgumentError } from '../../core/errors.js';
import { encodeModel } from '../onnx/grad/compile.js';
import type { HostTensor } from '../model.js';
import type { TransformerConfig } from './config.js';
import { buildTransformerGraph, LOGITS, pastKey, pastValue, TOKENS } from './graph.js';
import { hook } from './hook-names.js';
import type { TransformerParams } from './layout.js';
import { checkTokens, type TokenBatch, type TokenInput } from './tokens.js';

/**
 * The keys and values of a prefix of `length` tokens, one row: per layer [length, kvHeads, dHead]
 * row-major (keys after rotary for the LLaMA family). Made by `HookedTransformer.prefill`; `slice`
 * gives a shorter prefix's (the first positions depend on the first tokens only).
 */
export class PastKeyValues {
  constructor(
    /** The prefix's token ids. */
    readonly tokens: readonly number[],
    readonly keys: readonly Float32Array[],
    readonly values: readonly Float32Array[],
  ) {}

  get length(): number {
    return this.tokens.length;
  }

  /** The cache of the first `n` tokens (views, no copy). */
  slice(n: number): PastKeyValues {
    if (!Number.isInteger(n) || n < 1 || n > this.length) {
      throw new InvalidArgumentError(`Argument 'n' passed to 'PastKeyValues.slice' must be an integer in [1, ${this.length}], got ${n}`, { arg: 'n', fn: 'PastKeyValues.slice', value: n });
    }
    const per = (this.keys[0]?.length ?? 0) / this.length;
    return new PastKeyValues(
      this.tokens.slice(0, n),
      this.keys.map((k) => k.subarray(0, n * per)),
      this.values.map((v) => v.subarray(0, n * per)),
    );
  }
}

/** The hooks whose activations are a layer's cached keys and values (the keys attention reads: after rotary). */
export function kvHooks(config: TransformerConfig, layer: number): { key: string; value: string } {
  return { key: hook.attn(layer, config.family === 'llama' ? 'rot_k' : 'k'), value: hook.attn(layer, 'v') };
}

/**
 * Sessions kept at once (one per (tokens, past) length pair). Each holds its own copy of the weights
 * (they are initializers of its graph), so this bounds the memory to about 3 × the weights.
 */
const KEEP_SESSIONS = 3;

/** Builds, caches (least recently used out) and runs the graphs with a past. */
export class PastRunner {
  private readonly sessions = new Map<string, Promise<Ort.InferenceSession>>();
  /** Runs in flight per session key (those sessions are not evicted). */
  private readonly running = new Map<string, number>();

  constructor(
    private readonly config: TransformerConfig,
    private readonly params: TransformerParams,
    private readonly ort: Pick<typeof Ort, 'InferenceSession' | 'Tensor'>,
    private readonly sessionOptions: Ort.InferenceSession.SessionOptions,
    private readonly name: string,
  ) {}

  /** Logits [batch, T, vocab] of `tokens` (rows of T ids) after the prefix `past`. */
  async run(tokens: TokenInput, past: PastKeyValues): Promise<HostTensor> {
    const fn = 'HookedTransformer.runWithPast';
    const t = checkTokens(tokens, this.config, fn);
    const P = past.length;
    const { nLayers, nKvHeads, dHead, maxPositions } = this.config;
    const per = nKvHeads * dHead;
    if (past.keys.length !== nLayers || past.values.length !== nLayers || [...past.keys, ...past.values].some((a) => a.length !== P * per)) {
      throw new InvalidArgumentError(`Argument 'past' passed to '${fn}' must hold ${nLayers} layers of ${P} × ${nKvHeads} × ${dHead} keys and values (from prefill on this model)`, { arg: 'past', fn });
    }
    if (P + t.seqLen > maxPositions) {
      throw new InvalidArgumentError(`Argument 'tokens' passed to '${fn}' has ${t.seqLen} tokens after a past of ${P}; the model has ${maxPositions} positions`, { arg: 'tokens', fn, seqLen: t.seqLen, pastLength: P, maxPositions });
    }
    const key = `${t.seqLen}+${P}`;
    this.running.set(key, (this.running.get(key) ?? 0) + 1);
    try {
      return await this.runNow(await this.session(key, t.seqLen, P), t, past);
    } finally {
      const n = (this.running.get(key) ?? 1) - 1;
      if (n > 0) this.running.set(key, n);
      else this.running.delete(key);
    }
  }

  private async runNow(session: Ort.InferenceSession, t: TokenBatch, past: PastKeyValues): Promise<HostTensor> {
    const { nLayers, nKvHeads, dHead } = this.config;
    const P = past.length;
    const feeds: Record<string, Ort.Tensor> = { [TOKENS]: new this.ort.Tensor('int64', t.ids, [t.batch, t.seqLen]) };
    for (let l = 0; l < nLayers; l++) {
      feeds[pastKey(l)] = new this.ort.Tensor('float32', past.keys[l]!, [1, P, nKvHeads, dHead]);
      feeds[pastValue(l)] = new this.ort.Tensor('float32', past.values[l]!, [1, P, nKvHeads, dHead]);
    }
    let out: Ort.InferenceSession.ReturnType;
    try {
      out = await session.run(feeds);
    } catch (e) {
      throw new BackendError(`ONNX Runtime failed to run ${this.name} with a past: ${(e as Error).message}`, { model: this.name }, e);
    }
    const o = out[LOGITS]!;
    return { data: o.data as Float32Array, shape: [...o.dims] };
  }

  dispose(): void {
    for (const s of this.sessions.values()) void s.then((x) => x.release()).catch(() => undefined);
    this.sessions.clear();
  }

  private session(key: string, seqLen: number, pastLen: number): Promise<Ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (s) this.sessions.delete(key); // most recently used last
    else {
      const model = buildTransformerGraph(this.config, this.params, seqLen, pastLen).model;
      s = this.ort.InferenceSession.create(encodeModel(model), this.sessionOptions).catch((e: unknown) => {
        this.sessions.delete(key);
        throw new BackendError(`ONNX Runtime could not create a session for ${this.name} with a past: ${(e as Error).message}`, { model: this.name }, e);
      });
      for (const [old, v] of this.sessions) {
        if (this.sessions.size < KEEP_SESSIONS) break;
        if ((this.running.get(old) ?? 0) > 0) continue;
        this.sessions.delete(old);
        void v.then((x) => x.release()).catch(() => undefined);
      }
    }
    this.sessions.set(key, s);
    return s;
  }
}
