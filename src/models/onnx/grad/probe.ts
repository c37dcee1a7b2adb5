// Every tensor's shape in a graph, read by running it once with one row (the backward compiler
// bakes these into its graph) and once with two (the axes whose extent changes follow the batch).
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import { BackendError } from '../../../core/errors.js';
import { graphOf, type ModelProto } from '../graph/proto.js';
import { encodeModel, probeModel } from './compile.js';

/** Shapes from the one-row run (initializers included), and from the two-row run when the graph takes two rows. */
export interface ProbedShapes {
  readonly shapes: Map<string, readonly number[]>;
  readonly batchShapes?: Map<string, readonly number[]>;
}

/**
 * Runs `model` with every tensor exposed on `feeds(1)` and, when `feeds(2)` is given, on it too (a
 * graph that cannot take two rows, e.g. one exported with a fixed batch, gives no `batchShapes`).
 * `input` gets the shape `[rows, ...row]` (the graph input is not among the node outputs).
 */
export async function probeAllShapes(
  create: (bytes: Uint8Array) => Promise<InferenceSession>,
  model: ModelProto,
  input: string,
  row: readonly number[],
  feeds: (rows: 1 | 2) => Promise<Record<string, OrtTensor>>,
  twoRows: boolean,
): Promise<ProbedShapes> {
  const probe = await create(encodeModel(probeModel(model)));
  const read = (values: InferenceSession.OnnxValueMapType, rows: number, base?: ReadonlyMap<string, readonly number[]>) => {
    const shapes = new Map<string, readonly number[]>(base ?? []);
    for (const [name, v] of Object.entries(values)) shapes.set(name, (v as OrtTensor).dims);
    shapes.set(input, [rows, ...row]);
    if (!base) for (const init of graphOf(model).initializer) shapes.set(init.name ?? '', (init.dims ?? []).map((d) => Number(d)));
    return shapes;
  };
  try {
    let one: InferenceSession.OnnxValueMapType;
    try {
      one = await probe.run(await feeds(1));
    } catch (e) {
      // e.g. a detector whose feature pyramid needs sides that are multiples of 32
      throw new BackendError(`ONNX Runtime cannot run the model on an input row of shape [${row.join(', ')}] (needed to compile its gradients): ${(e as Error).message}; check the input size the model takes`, { input, shape: [1, ...row] }, e);
    }
    const shapes = read(one, 1);
    if (!twoRows) return { shapes };
    try {
      return { shapes, batchShapes: read(await probe.run(await feeds(2)), 2, shapes) };
    } catch {
      return { shapes };
    }
  } finally {
    void probe.release();
  }
}
