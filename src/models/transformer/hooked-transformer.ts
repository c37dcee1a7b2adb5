// A transformer language model run on ONNX Runtime with TransformerLens's hook points: read them
// (runWithCache), replace them (run with patches), and differentiate a function of the logits at many
// of them from one backward pass (gradients).
import type * as Ort from 'onnxruntime-node';
import { AttributionError, BackendError, BudgetExceededError, InvalidArgumentError, UnknownHookError } from '../../core/errors.js';
import { compileVjp, encodeModel, gradName, COTANGENT, probeModel } from '../onnx/grad/compile.js';
import { graphOf, onnx, type ModelProto } from '../onnx/graph/proto.js';
import { withOutputs } from '../onnx/graph/surgery.js';
import type { HostTensor } from '../model.js';
import type { TransformerConfig } from './config.js';
import { buildTransformerGraph, LOGITS, TOKENS, type TransformerGraph } from './graph.js';
import { readParams, type TransformerParams } from './layout.js';
import { kvHooks, PastKeyValues, PastRunner } from './past.js';
import { checkTokens, type TokenBatch, type TokenInput } from './tokens.js';
import { feedHooks, lastPositionLogits, maskInput, pruneUnused, valueInput } from './variant-graph.js';
import type { WeightStore } from './weights.js';

/** The parts of onnxruntime (node or web) the model uses. */
export type OrtRuntime = Pick<typeof Ort, 'InferenceSession' | 'Tensor'>;

/** Sequence lengths whose graph and sessions are kept at once. */
const KEEP_LENGTHS = 4;

export interface HookedTransformerOptions {
  readonly name?: string;
  /** ONNX Runtime session options (threads, optimisation level). */
  readonly sessionOptions?: Ort.InferenceSession.SessionOptions;
  /**
   * Bytes the activations returned by one `runWithCache` or `gradients` call may take (checked from
   * the shapes before the run; the call is refused over it). Default 1 GiB.
   */
  readonly maxCacheBytes?: number;
  /**
   * Compiled sessions kept at once (each holds a copy of the weights it uses); beyond it the least
   * recently used one not running is released (and compiled again if asked again). Default 16.
   */
  readonly maxSessions?: number;
}

/** Hook activations by TransformerLens name, as host arrays `[batch, ...hook shape]`. */
export type HookValues = ReadonlyMap<string, HostTensor>;

/** One forward pass: the logits and the activations asked for. */
export interface CachedRun {
  /** [batch, pos, vocab] */
  readonly logits: HostTensor;
  readonly cache: HookValues;
}

/** One forward and one backward pass: logits, activations and ∂(Σ cotangent ⊙ logits)/∂hook. */
export interface HookGradientRun extends CachedRun {
  readonly gradients: HookValues;
}

/** Part of a hook replaced: where `mask` is 1 the hook takes `value`, elsewhere its own value (both `[batch, ...hookShape]`). */
export interface MaskedPatch {
  readonly value: Float32Array;
  readonly mask: Uint8Array;
}

export interface RunOptions {
  /** Hooks replaced by these values (`[batch, ...hookShape]`, row-major): everything downstream is recomputed. */
  readonly patches?: Readonly<Record<string, Float32Array>>;
  /**
   * Hooks replaced element by element (`h ← mask ? value : h`): each batch row can patch a different
   * slice, so many patched runs share one forward batch (batched activation patching).
   */
  readonly masked?: Readonly<Record<string, MaskedPatch>>;
  /**
   * Logits of the last position only (`[batch, 1, vocab]`; for `gradients` the cotangent too): the
   * unembedding then costs one row per sequence instead of `seqLen`, forward and backward — what the
   * component methods use when their metric reads only the last position.
   */
  readonly lastPosition?: boolean;
}

interface Variant {
  readonly session: Ort.InferenceSession;
}

/**
 * A decoder-only transformer (GPT-2, LLaMA, Qwen2, Mistral) built by attrib as an ONNX graph whose
 * intermediate tensors carry TransformerLens's hook names (`hook_embed`, `blocks.0.attn.hook_q`, …;
 * shapes: q/k/v/z `[batch, pos, head, dHead]` (k/v with the key-value heads), pattern
 * `[batch, head, query, key]`). Activations and gradients come back as plain `Float32Array`s that the
 * caller owns: no TF.js tensors, nothing to dispose but the model's sessions.
 *
 * Graphs are built per sequence length, and sessions are compiled per (sequence length, patched hooks,
 * returned hooks, differentiated hooks) and kept in this object for the four most recently used
 * lengths (older ones are released, and rebuilt if asked again) until `dispose()`, at most
 * `maxSessions` of them (least recently used released first).
 *
 * Cost: one session run per call (forward, or forward + backward for `gradients`); each new variant
 * costs one graph build and session creation (and, for gradients, one probe run and a compile).
 */
export class HookedTransformer implements Disposable {
  readonly name: string;
  private readonly graphs = new Map<number, TransformerGraph>();
  /** Probed tensor shapes by `${seqLen}:${lastPosition}`. */
  private readonly shapes = new Map<string, Map<string, readonly number[]>>();
  private readonly variants = new Map<string, Promise<Variant>>();
  /** Calls in flight per session key (not released while running). */
  private readonly inUse = new Map<string, number>();
  private readonly maxSessions: number;
  /** Calls in flight per sequence length (their graph and sessions are not evicted). */
  private readonly running = new Map<number, number>();
  /** Bytes one call may return or be fed (see `HookedTransformerOptions.maxCacheBytes`). */
  readonly maxCacheBytes: number;
  private past: PastRunner | undefined;
  private disposed = false;

  private constructor(
    readonly config: TransformerConfig,
    /** The weights in the graph's layout (x @ W), read-only: what direct logit attribution projects with. */
    readonly params: TransformerParams,
    private readonly ort: OrtRuntime,
    private readonly opts: HookedTransformerOptions,
  ) {
    this.name = opts.name ?? `${config.modelType}-${config.nLayers}L`;
    this.maxCacheBytes = opts.maxCacheBytes ?? 2 ** 30;
    this.maxSessions = Math.max(1, opts.maxSessions ?? 16);
  }

  /**
   * The model of `config` with `weights` (Hugging Face names). `ort` is onnxruntime-node or -web.
   * @throws {ModelLoadError} `invalid_model` for a weight of the wrong shape; `invalid_file` for a missing one.
   */
  static create(config: TransformerConfig, weights: WeightStore, ort: OrtRuntime, opts: HookedTransformerOptions = {}): HookedTransformer {
    return new HookedTransformer(config, readParams(config, weights), ort, opts);
  }

  /** Sessions compiled and kept (at most `maxSessions`). */
  get sessionCount(): number {
    return this.variants.size;
  }

  /** The hook points, in forward order (they do not depend on the sequence length). */
  get hookNames(): readonly string[] {
    const built = this.graphs.values().next();
    return [...(built.done ? this.graph(1) : built.value).hooks.keys()];
  }

  /** A hook's shape for sequences of `seqLen` tokens, without the batch. Throws `unknown_hook`, and `invalid_argument` for a length outside [1, max positions]. */
  hookShape(name: string, seqLen: number): readonly number[] {
    if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > this.config.maxPositions) {
      throw new InvalidArgumentError(`Argument 'seqLen' passed to 'HookedTransformer.hookShape' must be an integer in [1, ${this.config.maxPositions}] (the model's positions), got ${seqLen}`, { arg: 'seqLen', fn: 'hookShape', value: seqLen, maxPositions: this.config.maxPositions });
    }
    const s = this.graph(seqLen).hooks.get(name);
    if (!s) throw this.unknown(name, 'hookShape');
    return s;
  }

  /** Logits [batch, pos, vocab] of `tokens`, with `patches` replacing hooks for this call only. */
  async run(tokens: TokenInput, opts: RunOptions = {}): Promise<HostTensor> {
    const t = checkTokens(tokens, this.config, 'HookedTransformer.run');
    const out = await this.execute(t, { ...opts, keep: [], grads: [] });
    return out.logits;
  }

  /** Logits and the activations at `names` (default: every hook point). */
  async runWithCache(tokens: TokenInput, names?: readonly string[], opts: RunOptions = {}): Promise<CachedRun> {
    const t = checkTokens(tokens, this.config, 'HookedTransformer.runWithCache');
    return this.execute(t, { ...opts, keep: names ?? [...this.graph(t.seqLen).hooks.keys()], grads: [] });
  }

  /**
   * One forward and ONE backward pass of `Σ cotangent ⊙ logits` (cotangent [batch, pos, vocab]): its
   * gradient at every hook in `names` (each the total derivative, with everything upstream of the
   * hook held fixed), the logits, and the activations at `names`. E.g. the metric
   * `logits[last, answer] − logits[last, wrong]` is the cotangent +1 / −1 at those two entries
   * (`logitDifferenceCotangent`).
   */
  async gradients(tokens: TokenInput, names: readonly string[], cotangent: Float32Array, opts: RunOptions = {}): Promise<HookGradientRun> {
    const fn = 'HookedTransformer.gradients';
    const t = checkTokens(tokens, this.config, fn);
    const positions = opts.lastPosition ? 1 : t.seqLen;
    const want = t.batch * positions * this.config.vocabSize;
    if (cotangent.length !== want) {
      throw new InvalidArgumentError(`Argument 'cotangent' passed to '${fn}' must have ${want} values ([${t.batch}, ${positions}, ${this.config.vocabSize}]), got ${cotangent.length}`, { arg: 'cotangent', fn, expected: want, actual: cotangent.length });
    }
    if (names.length === 0) throw new InvalidArgumentError(`Argument 'names' passed to '${fn}' must name at least one hook`, { arg: 'names', fn });
    return this.execute(t, { ...opts, keep: names, grads: names, cotangent });
  }

  /**
   * The keys and values of one prefix `tokens` (one forward run), for `runWithPast`: a prompt's shared
   * part computed once. Cost: one forward run of the prefix.
   */
  async prefill(tokens: readonly number[]): Promise<PastKeyValues> {
    const names = Array.from({ length: this.config.nLayers }, (_, l) => kvHooks(this.config, l));
    const { cache } = await this.runWithCache(tokens, names.flatMap((n) => [n.key, n.value]));
    return new PastKeyValues([...tokens], names.map((n) => cache.get(n.key)!.data), names.map((n) => cache.get(n.value)!.data));
  }

  /**
   * Logits [batch, T, vocab] of `tokens` (rows of T ids) continuing the prefix `past` (every row the
   * same prefix): equal to the last T positions of `run` on prefix + row, at the cost of T positions.
   * Sessions are kept per (T, past length), the eight most recent.
   */
  async runWithPast(tokens: TokenInput, past: PastKeyValues): Promise<HostTensor> {
    if (this.disposed) throw new InvalidArgumentError(`Model '${this.name}' was disposed`, { model: this.name });
    this.past ??= new PastRunner(this.config, this.params, this.ort, this.opts.sessionOptions ?? {}, this.name);
    return this.past.run(tokens, past);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.past?.dispose();
    for (const v of this.variants.values()) void v.then((x) => x.session.release()).catch(() => undefined);
    this.variants.clear();
    this.graphs.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private graph(seqLen: number): TransformerGraph {
    let g = this.graphs.get(seqLen);
    if (g) {
      this.graphs.delete(seqLen); // most recently used last
    } else {
      g = buildTransformerGraph(this.config, this.params, seqLen);
      this.evictLengths();
    }
    this.graphs.set(seqLen, g);
    return g;
  }

  /**
   * Each sequence length's graph holds a copy of every weight, and its sessions another: beyond
   * KEEP_LENGTHS lengths, the least recently used one not running is dropped with its sessions
   * (rebuilt if asked again).
   */
  private evictLengths(): void {
    for (const old of this.graphs.keys()) {
      if (this.graphs.size < KEEP_LENGTHS) return;
      if ((this.running.get(old) ?? 0) > 0) continue;
      this.graphs.delete(old);
      for (const last of [false, true]) this.shapes.delete(`${old}:${last}`);
      const prefix = `[${old},`;
      for (const [key, v] of this.variants) {
        if (!key.startsWith(prefix)) continue;
        this.variants.delete(key);
        void v.then((x) => x.session.release()).catch(() => undefined);
      }
    }
  }

  /** Beyond `maxSessions`, releases the least recently used sessions no call is using. */
  private evictSessions(): void {
    for (const [key, v] of this.variants) {
      if (this.variants.size <= this.maxSessions) return;
      if ((this.inUse.get(key) ?? 0) > 0) continue;
      this.variants.delete(key);
      void v.then((x) => x.session.release()).catch(() => undefined);
    }
  }

  private unknown(name: string, fn: string): UnknownHookError {
    const some = this.hookNames.filter((h) => h.startsWith('blocks.0.')).slice(0, 4);
    return new UnknownHookError(`Hook '${name}' passed to 'HookedTransformer.${fn}' is not a hook point of ${this.name}; e.g. ${some.join(', ')}, … (see hookNames)`, { hook: name, fn });
  }

  private async execute(t: TokenBatch, req: RunOptions & { keep: readonly string[]; grads: readonly string[]; cotangent?: Float32Array }): Promise<HookGradientRun> {
    this.running.set(t.seqLen, (this.running.get(t.seqLen) ?? 0) + 1);
    try {
      return await this.executeNow(t, req);
    } finally {
      const n = (this.running.get(t.seqLen) ?? 1) - 1;
      if (n > 0) this.running.set(t.seqLen, n);
      else this.running.delete(t.seqLen);
    }
  }

  private async executeNow(t: TokenBatch, req: RunOptions & { keep: readonly string[]; grads: readonly string[]; cotangent?: Float32Array }): Promise<HookGradientRun> {
    if (this.disposed) throw new InvalidArgumentError(`Model '${this.name}' was disposed`, { model: this.name });
    const hooks = this.graph(t.seqLen).hooks;
    const fn = req.grads.length > 0 ? 'gradients' : 'runWithCache';
    const patches = req.patches ?? {};
    const masked = req.masked ?? {};
    const patched = Object.keys(patches).sort();
    const maskedNames = Object.keys(masked).sort();
    for (const n of new Set([...req.keep, ...req.grads, ...patched, ...maskedNames])) if (!hooks.has(n)) throw this.unknown(n, fn);
    const both = patched.find((n) => maskedNames.includes(n));
    if (both) throw new InvalidArgumentError(`Hook '${both}' passed to 'HookedTransformer.${fn}' is both in 'patches' and in 'masked'; give it once`, { arg: 'masked', hook: both });
    // what the call returns (logits, the kept activations and the gradients) and is fed (patches: 4
    // bytes an element; masked patches: 5)
    const size = (n: string) => 4 * t.batch * hooks.get(n)!.reduce((a, b) => a * b, 1);
    const last = req.lastPosition ?? false;
    let bytes = 4 * t.batch * (last ? 1 : t.seqLen) * this.config.vocabSize;
    for (const n of new Set(req.keep)) if (!patched.includes(n)) bytes += size(n);
    for (const n of req.grads) bytes += size(n);
    for (const n of patched) bytes += size(n);
    for (const n of maskedNames) bytes += (size(n) * 5) / 4;
    if (bytes > this.maxCacheBytes) {
      throw new BudgetExceededError(`'HookedTransformer.${fn}' would return or be fed ${bytes} bytes of activations, over maxCacheBytes = ${this.maxCacheBytes}; ask for fewer hooks or a smaller batch`, { fn, bytes, maxCacheBytes: this.maxCacheBytes });
    }
    const keep = req.keep.filter((n) => !patched.includes(n));
    const feeds: Record<string, Ort.Tensor> = { [TOKENS]: new this.ort.Tensor('int64', t.ids, [t.batch, t.seqLen]) };
    const sized = <A extends Float32Array | Uint8Array>(n: string, value: A, arg: string): { value: A; dims: number[] } => {
      const dims = [t.batch, ...hooks.get(n)!];
      if (value.length !== dims.reduce((a, b) => a * b, 1)) {
        throw new InvalidArgumentError(`Patch '${n}' passed to 'HookedTransformer.${fn}' must have shape [${dims.join(', ')}] (${dims.reduce((a, b) => a * b, 1)} values), got ${value.length}`, { arg, hook: n, expected: dims });
      }
      return { value, dims };
    };
    for (const n of patched) {
      const p = sized(n, patches[n]!, 'patches');
      feeds[n] = new this.ort.Tensor('float32', p.value, p.dims);
    }
    for (const n of maskedNames) {
      const v = sized(n, masked[n]!.value, 'masked');
      const m = sized(n, masked[n]!.mask, 'masked');
      feeds[valueInput(n)] = new this.ort.Tensor('float32', v.value, v.dims);
      feeds[maskInput(n)] = new this.ort.Tensor('bool', m.value, m.dims);
    }
    if (req.grads.length > 0) feeds[COTANGENT] = new this.ort.Tensor('float32', req.cotangent!, [t.batch, last ? 1 : t.seqLen, this.config.vocabSize]);
    const key = JSON.stringify([t.seqLen, patched, maskedNames, keep, req.grads, last]);
    let v = this.variants.get(key);
    if (v) this.variants.delete(key); // most recently used last
    else {
      v = this.compile(t.seqLen, patched, maskedNames, keep, req.grads, last);
      v.catch(() => this.variants.delete(key));
    }
    this.variants.set(key, v);
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
    let out: Ort.InferenceSession.ReturnType;
    try {
      this.evictSessions();
      const { session } = await v;
      out = await session.run(feeds);
    } catch (e) {
      if (e instanceof AttributionError) throw e;
      throw new BackendError(`ONNX Runtime failed to run ${this.name}: ${(e as Error).message}`, { model: this.name }, e);
    } finally {
      const n = (this.inUse.get(key) ?? 1) - 1;
      if (n > 0) this.inUse.set(key, n);
      else this.inUse.delete(key);
    }
    const host = (name: string): HostTensor => {
      const o = out[name]!;
      return { data: o.data as Float32Array, shape: [...o.dims] };
    };
    return {
      logits: host(LOGITS),
      cache: new Map(keep.map((n) => [n, host(n)])),
      gradients: new Map(req.grads.map((n) => [n, host(gradName(n))])),
    };
  }

  /** The session computing logits, `keep` and the gradients at `grads`, with `patched` hooks fed as inputs and `masked` ones mixed with inputs. */
  private async compile(seqLen: number, patched: readonly string[], masked: readonly string[], keep: readonly string[], grads: readonly string[], last: boolean): Promise<Variant> {
    let model = feedHooks(this.base(seqLen, last), patched, masked, this.graph(seqLen).hooks);
    if (grads.length > 0) {
      model = compileVjp(model, grads, LOGITS, await this.probe(seqLen, last));
      const g = graphOf(model);
      for (const n of keep) if (!g.output.some((o) => o.name === n)) g.output.push(onnx.ValueInfoProto.fromObject({ name: n }));
    } else model = pruneUnused(withOutputs(model, [LOGITS, ...keep]));
    try {
      return { session: await this.ort.InferenceSession.create(encodeModel(model), this.opts.sessionOptions ?? {}) };
    } catch (e) {
      throw new BackendError(`ONNX Runtime could not create a session for ${this.name}: ${(e as Error).message}`, { model: this.name }, e);
    }
  }

  /** The graph of `seqLen` tokens, with logits of the last position only when `last`. */
  private base(seqLen: number, last: boolean): ModelProto {
    const graph = this.graph(seqLen).model;
    return last ? lastPositionLogits(graph, seqLen) : graph;
  }

  /** Every tensor's shape for batch 1 (what compileVjp needs), from one probe run. */
  private async probe(seqLen: number, last: boolean): Promise<Map<string, readonly number[]>> {
    const key = `${seqLen}:${last}`;
    const known = this.shapes.get(key);
    if (known) return known;
    const graph = this.base(seqLen, last);
    const session = await this.ort.InferenceSession.create(encodeModel(probeModel(graph)), this.opts.sessionOptions ?? {});
    try {
      const out = await session.run({ [TOKENS]: new this.ort.Tensor('int64', new BigInt64Array(seqLen), [1, seqLen]) });
      const shapes = new Map<string, readonly number[]>();
      for (const [n, v] of Object.entries(out)) shapes.set(n, [...v.dims]);
      shapes.set(TOKENS, [1, seqLen]);
      for (const init of graphOf(graph).initializer) shapes.set(init.name ?? '', (init.dims ?? []).map(Number));
      this.shapes.set(key, shapes);
      return shapes;
    } finally {
      void session.release();
    }
  }
}

/**
 * The cotangent of `M = logits[row, last, answer] − logits[row, last, wrong]` for every row: +1 and −1
 * at those entries of a [batch, seqLen, vocab] array.
 */
export function logitDifferenceCotangent(batch: number, seqLen: number, vocab: number, answer: number, wrong: number): Float32Array {
  const c = new Float32Array(batch * seqLen * vocab);
  for (let b = 0; b < batch; b++) {
    const at = (b * seqLen + seqLen - 1) * vocab;
    c[at + answer]! += 1;
    c[at + wrong]! -= 1;
  }
  return c;
}
