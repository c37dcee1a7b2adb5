// A model exported with its batch fixed at 1 made to take any batch, when its graph allows: the
// input's and outputs' first dim turned symbolic, then checked on ONNX Runtime (two different rows
// run alone and together must give the same rows back). Graphs that hard-code the batch (a Reshape
// to [1, …]) fail the check and keep running one row at a time.
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { Rng } from '../../core/random.js';
import { graphOf, onnx, type ModelProto } from './graph/proto.js';
import type { OrtModule } from './session.js';

/** Largest relative difference between a row run alone and in the batch of two. */
const TOLERANCE = 1e-4;

/** Bytes of the model with a free batch, or undefined when it has none fixed at 1 or the check fails. */
export async function freeFixedBatch(bytes: Uint8Array, ort: OrtModule & { readonly InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> } }, options?: InferenceSession.SessionOptions): Promise<Uint8Array | undefined> {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    return undefined;
  }
  if (!model.graph) return undefined; // ORT refuses the model when it opens it
  const g = graphOf(model);
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !inits.has(i.name));
  const input = inputs[0];
  const type = input?.type?.tensorType;
  const dims = type?.shape?.dim ?? [];
  const sizes = dims.map((d) => Number(d.dimValue ?? 0));
  if (inputs.length !== 1 || type?.elemType !== onnx.TensorProto.DataType.FLOAT || dims.length < 2 || sizes[0] !== 1 || sizes.some((s) => !(s > 0))) return undefined;
  dims[0] = onnx.TensorShapeProto.Dimension.fromObject({ dimParam: 'attrib_batch' });
  for (const o of g.output) {
    const d0 = o.type?.tensorType?.shape?.dim?.[0];
    if (d0 && Number(d0.dimValue ?? 0) === 1) o.type!.tensorType!.shape!.dim![0] = onnx.TensorShapeProto.Dimension.fromObject({ dimParam: 'attrib_batch' });
  }
  g.valueInfo.splice(0, g.valueInfo.length);
  const freed = onnx.ModelProto.encode(model).finish();
  let session: InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(freed, options);
    const per = sizes.slice(1).reduce((a, b) => a * b, 1);
    const rng = new Rng(1);
    const rows = [0, 1].map(() => Float32Array.from({ length: per }, () => rng.normal()));
    const run = async (data: Float32Array, n: number) => session!.run({ [input!.name!]: new ort.Tensor('float32', data, [n, ...sizes.slice(1)]) });
    const [a, b] = [await run(rows[0]!, 1), await run(rows[1]!, 1)];
    const both = new Float32Array(2 * per);
    both.set(rows[0]!, 0);
    both.set(rows[1]!, per);
    const ab = await run(both, 2);
    for (const name of Object.keys(a)) {
      const [ta, tb, tab] = [a[name] as OrtTensor, b[name] as OrtTensor, ab[name] as OrtTensor];
      if (ta.dims[0] !== 1 || tab.dims[0] !== 2 || tab.dims.length !== ta.dims.length) return undefined;
      const [da, db, dab] = [ta.data, tb.data, tab.data] as Float32Array[];
      if (!(da instanceof Float32Array) || dab!.length !== 2 * da.length) return undefined;
      const scale = Math.max(1e-6, ...Array.from(da, Math.abs), ...Array.from(db!, Math.abs));
      for (let k = 0; k < da.length; k++) if (Math.abs(dab![k]! - da[k]!) > TOLERANCE * scale || Math.abs(dab![da.length + k]! - db![k]!) > TOLERANCE * scale) return undefined;
    }
    return freed;
  } catch {
    return undefined;
  } finally {
    void session?.release();
  }
}
