import * as tf from '@tensorflow/tfjs-core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError, ModelLoadError } from '../../core/errors.js';
import { gatherInputs, type CallContext, type HostTensor, type ModelAdapter } from '../model.js';
import { placeRows, resolveBatchAxes } from './batch-axes.js';

/** The parts of an onnxruntime module (node or web) the adapter needs. */
export interface OrtModule {
  readonly Tensor: new (type: 'float32' | 'int64' | 'int32', data: Float32Array | BigInt64Array | Int32Array, dims: readonly number[]) => OrtTensor;
}

export interface OnnxModelOptions {
  readonly name?: string;
  /** Input to attribute. Default: the first graph input. `fromOnnx` also accepts an intermediate tensor: the graph is cut there and the tensor becomes the input (e.g. an embedding output). */
  readonly inputName?: string;
  /** Output to attribute. Default: the first graph output. `fromOnnx` also accepts an intermediate tensor. */
  readonly outputName?: string;
  /** Element type of the input; integer inputs (token ids) are fed as int64. Default: from the session's metadata, else float32. */
  readonly inputType?: 'float32' | 'int64' | 'int32';
  /** Input shape with null for dynamic dims. Default: from the session's metadata. */
  readonly inputShape?: readonly (number | null)[];
  /**
   * Rows per session run for host batches (perturbation methods). Default: the method's batch as it
   * comes (`batchSize` rows). 'auto': the first batch
   * of at least 64 rows times runs of 8, 16, … 512 rows (up to its size, stopping once throughput has
   * fallen twice) on its own first rows and keeps the fastest per row; larger batches are then split
   * into runs of that size. The timing runs are extra forward passes, once per session, not counted
   * in any method's evaluations. A number fixes the size. (Measured on the reference CNN, 2 cores: the
   * bare session peaks at 32–64 rows per run, 65k rows/s against 51k at 128, but occlusion and
   * KernelSHAP end to end move by less than the run-to-run noise, so splitting is opt-in.)
   */
  readonly sessionRows?: number | 'auto';
  /**
   * The hook points to expose, by name, with their layer classes, instead of every tensor of the
   * graph: a TF.js layers model exported by `exportLayersModel` keeps its layers' names and classes
   * (the exporter's helper tensors stay hidden). Default: every tensor a computing node produces.
   */
  readonly layers?: ReadonlyMap<string, string>;
  /**
   * Known output shapes of those hook points (`null` for the batch), used where the load-time probe cannot
   * run the graph (a model with several inputs): the exporter keeps TF.js's layouts, so TF.js's shapes hold.
   */
  readonly layerShapes?: ReadonlyMap<string, readonly (number | null)[]>;
  /**
   * The batch axis of each other input in the model's layout: an axis (recurrent state
   * `[layers, batch, hidden]` → 1), or `null` for an input without one (a scalar sample rate,
   * shared by every row, so every row must hold the same value). Extra inputs are always passed
   * with one row per input row on axis 0 (`inputs: { state: [rows, layers, hidden] }`); the adapter
   * moves that axis. Default per input: the axis whose symbolic dim has the attributed input's batch
   * name, else none for a scalar input, else 0.
   */
  readonly inputBatchAxes?: Readonly<Record<string, number | null>>;
  /** The Embedding layer the (token-id) input feeds, for exported text models: layer methods default to it. */
  readonly embeddingOfInput?: string;
  /** Rows of that Embedding layer's table (the largest token id + 1), when known. */
  readonly embeddingRows?: number;
}

/** Candidate run sizes the tuner times. */
const TUNE_SIZES = [8, 16, 32, 64, 128, 256, 512];

interface InputMeta {
  readonly name: string;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

/** The forward adapter plus what the gradient compiler needs from it. */
export interface OnnxForwardAdapter extends ModelAdapter {
  readonly inputNames: readonly string[];
  readonly inputType: 'float32' | 'int64' | 'int32';
  readonly outputName: string;
  buildFeeds(x: tf.Tensor, ctx?: CallContext): Promise<Record<string, OrtTensor>>;
  /** `buildFeeds` of a row-major host batch. */
  buildHostFeeds(data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<Record<string, OrtTensor>>;
  /** Rows per session run for host batches, once chosen (see `OnnxModelOptions.sessionRows`). */
  readonly sessionRows: number | undefined;
  /**
   * The model was exported with its input's batch fixed at 1: every session run takes one row
   * (the adapter splits batches itself and reports the batch as dynamic in `inputShape`).
   */
  readonly fixedBatch: boolean;
  /** Every other input's batch axis in the model's layout, null for none (see `inputBatchAxes`). */
  readonly batchAxes: ReadonlyMap<string, number | null>;
}

/**
 * A forward-only adapter for an ONNX Runtime inference session (`fromOnnx` adds gradients). The
 * session is owned by the adapter: `dispose()` releases it.
 */
export function fromOnnxSession(session: InferenceSession, ort: OrtModule, opts: OnnxModelOptions = {}): OnnxForwardAdapter {
  const inputName = opts.inputName ?? session.inputNames[0];
  const outputName = opts.outputName ?? session.outputNames[0];
  if (!inputName || !session.inputNames.includes(inputName)) {
    throw new ModelLoadError(`ONNX model has no input '${String(inputName)}'; its inputs are ${session.inputNames.join(', ')}`, {
      inputs: session.inputNames,
    });
  }
  if (!outputName || !session.outputNames.includes(outputName)) {
    throw new ModelLoadError(`ONNX model has no output '${String(outputName)}'; its outputs are ${session.outputNames.join(', ')}`, {
      outputs: session.outputNames,
    });
  }
  const metaOf = (n: string) => ((session as unknown as { inputMetadata?: readonly InputMeta[] }).inputMetadata ?? []).find((m) => m.name === n);
  const meta = metaOf(inputName);
  const inputType = opts.inputType ?? (meta?.type === 'int64' ? 'int64' : meta?.type === 'int32' ? 'int32' : 'float32');
  const declared = opts.inputShape ?? (meta?.shape ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : null)) : [null]);
  // a batch fixed at 1 (common in exports): attrib runs one row at a time, so the batch is free
  const fixedBatch = declared.length > 1 && declared[0] === 1;
  const inputShape = fixedBatch ? [null, ...declared.slice(1)] : declared;
  const name = opts.name ?? 'onnx-model';
  const others = session.inputNames.filter((n) => n !== inputName);
  const batchAxes = resolveBatchAxes(opts.inputBatchAxes, meta?.shape, others.map((n) => ({ name: n, shape: metaOf(n)?.shape })), 'fromOnnx');
  const toOrt = (t: Float32Array | Int32Array | Uint8Array, dims: readonly number[], type: string | undefined): OrtTensor => {
    if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(t, (v) => BigInt(Math.round(v))), dims);
    if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(t, (v) => Math.round(v)), dims);
    return new ort.Tensor('float32', t instanceof Float32Array ? t : Float32Array.from(t), dims);
  };
  const outMeta = ((session as unknown as { outputMetadata?: readonly InputMeta[] }).outputMetadata ?? []).find((m) => m.name === outputName);
  const outputShape = outMeta?.shape ? outMeta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : null)) : undefined;
  /** The session's feeds: the attributed input and the fixed other inputs for these rows. */
  const buildFeeds = async (x: tf.Tensor, ctx?: CallContext): Promise<Record<string, OrtTensor>> => buildHostFeeds((await x.data()) as Float32Array, x.shape, ctx);
  const buildHostFeeds = async (data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<Record<string, OrtTensor>> => {
    const feeds: Record<string, OrtTensor> = { [inputName]: toOrt(data, shape, inputType) };
    if (others.length > 0) {
      const gathered = await gatherInputs(ctx, others, name);
      for (const [n, t] of Object.entries(gathered)) {
        try {
          const axis = batchAxes.get(n);
          // null: the input has no batch axis (one value shared by every row), not axis 0
          const placed = placeRows((await t.data()) as Float32Array | Int32Array, t.shape, axis === undefined ? 0 : axis, n);
          feeds[n] = toOrt(placed.data, placed.shape, metaOf(n)?.type);
        } finally {
          t.dispose();
        }
      }
    }
    return feeds;
  };
  const runHost = async (feeds: Record<string, OrtTensor>): Promise<HostTensor> => {
    let result: InferenceSession.OnnxValueMapType;
    try {
      result = await session.run(feeds, [outputName]);
    } catch (e) {
      throw new BackendError(`ONNX Runtime failed to run model '${name}': ${(e as Error).message}`, { model: name }, e);
    }
    const out = result[outputName] as OrtTensor;
    const data = out.data instanceof Float32Array ? out.data : Float32Array.from(out.data as ArrayLike<number>);
    const shape = [...out.dims];
    out.dispose?.();
    return { data, shape };
  };
  const tuning = fixedBatch ? 1 : opts.sessionRows;
  let chosen: number | undefined = typeof tuning === 'number' ? tuning : undefined;
  if (typeof tuning === 'number' && (!Number.isInteger(tuning) || tuning < 1)) {
    throw new ModelLoadError(`Option 'sessionRows' passed to 'fromOnnx' must be a positive integer or 'auto', got ${tuning}`, { arg: 'sessionRows' });
  }
  /** Times runs of each candidate size on the batch's first rows and returns the fastest per row. */
  const tune = async (data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<number> => {
    const per = data.length / shape[0]!;
    const sizes = TUNE_SIZES.filter((c) => c <= shape[0]!);
    let best = sizes[sizes.length - 1]!;
    let bestRate = 0;
    let worse = 0;
    for (const c of sizes) {
      const sub = ctx ? { ...ctx, rows: Array.from({ length: c }, (_, k) => ctx.rows[k]!) } : undefined;
      const feeds = await buildHostFeeds(data.subarray(0, c * per), [c, ...shape.slice(1)], sub);
      await runHost(feeds); // the first run of a shape plans it
      const reps = Math.max(1, Math.round(64 / c));
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) await runHost(feeds);
      const rate = (reps * c) / (performance.now() - t0);
      if (rate > bestRate) (bestRate = rate), (best = c), (worse = 0);
      else if (++worse === 2) break; // throughput has peaked
    }
    return best;
  };
  const forwardHost = async (data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<HostTensor> => {
    const rows = shape[0]!;
    if (chosen === undefined && tuning === 'auto' && rows >= 64) chosen = await tune(data, shape, ctx);
    const size = chosen ?? rows;
    if (rows <= size) return runHost(await buildHostFeeds(data, shape, ctx));
    const per = data.length / rows;
    const parts: HostTensor[] = [];
    for (let s = 0; s < rows; s += size) {
      const e = Math.min(rows, s + size);
      const sub = { rows: Array.from({ length: e - s }, (_, k) => ctx?.rows[s + k] ?? s + k), ...(ctx?.inputs ? { inputs: ctx.inputs } : {}) };
      parts.push(await runHost(await buildHostFeeds(data.subarray(s * per, e * per), [e - s, ...shape.slice(1)], sub)));
    }
    const outPer = parts[0]!.data.length / Math.min(rows, size);
    const out = new Float32Array(rows * outPer);
    let at = 0;
    for (const part of parts) (out.set(part.data, at), (at += part.data.length));
    return { data: out, shape: [rows, ...parts[0]!.shape.slice(1)] };
  };
  return {
    buildFeeds,
    buildHostFeeds,
    fixedBatch,
    batchAxes,
    inputType,
    outputName,
    name,
    inputShape,
    inputNames: [inputName, ...others],
    ...(outputShape ? { outputShape } : {}),
    capabilities: { gradients: false, hooks: false },
    async forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
      const out = fixedBatch && x.shape[0]! > 1 ? await forwardHost((await x.data()) as Float32Array, x.shape, ctx) : await runHost(await buildFeeds(x, ctx));
      return tf.tensor(out.data, [...out.shape]);
    },
    forwardHost,
    /** Rows per session run chosen by the tuner (undefined until a batch of ≥ 64 rows arrives). */
    get sessionRows(): number | undefined {
      return chosen;
    },
    dispose: () => {
      void session.release();
    },
  };
}
