import * as tf from '@tensorflow/tfjs-core';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError, ModelLoadError } from '../../core/errors.js';
import { gatherInputs, type CallContext, type HostTensor, type ModelAdapter } from '../model.js';

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
}

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
  const inputShape = opts.inputShape ?? (meta?.shape ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : null)) : [null]);
  const name = opts.name ?? 'onnx-model';
  const others = session.inputNames.filter((n) => n !== inputName);
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
        feeds[n] = toOrt((await t.data()) as Float32Array, t.shape, metaOf(n)?.type);
        t.dispose();
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
  return {
    buildFeeds,
    inputType,
    outputName,
    name,
    inputShape,
    inputNames: [inputName, ...others],
    ...(outputShape ? { outputShape } : {}),
    capabilities: { gradients: false, hooks: false },
    async forward(x: tf.Tensor, ctx?: CallContext): Promise<tf.Tensor> {
      const out = await runHost(await buildFeeds(x, ctx));
      return tf.tensor(out.data, [...out.shape]);
    },
    async forwardHost(data: Float32Array, shape: readonly number[], ctx?: CallContext): Promise<HostTensor> {
      return runHost(await buildHostFeeds(data, shape, ctx));
    },
    dispose: () => {
      void session.release();
    },
  };
}
