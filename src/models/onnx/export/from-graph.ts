// TF.js graph models (GraphDef `model.json`) written as ONNX graphs, so that they run (and
// differentiate) on ONNX Runtime through the compiled backward graph. Every op node keeps its name as
// the ONNX tensor it writes, so hook names are the same on both engines. Shapes, and the values of
// everything that does not depend on the input's data (weights, shape arithmetic), come from two
// probe runs of the graph on TF.js (batch 1 and batch 2): what differs between them depends on the
// batch size and is written as a batch-free form (Reshape's 0) or refused.
import * as tf from '@tensorflow/tfjs-core';
import { CapabilityError, InvalidArgumentError, isAttributionError } from '../../../core/errors.js';
import type { GraphModelAdapter, GraphNodeLike } from '../../tfjs/graph-model.js';
import { graphPath, inputsOf, splitTensorName } from '../../tfjs/graph-path.js';
import { onnx } from '../graph/proto.js';
import { constInput, type ConstValue, type OpContext } from './graph-context.js';
import { dilatedConvAttrs, findDilatedConvs } from './graph-dilation.js';
import { GRAPH_OPS, MULTI_OUTPUT } from './graph-ops.js';
import { GraphWriter, type Shape } from './writer.js';

export interface GraphExportOptions {
  /** Default-domain opset of the written model (17 or newer). Default 17. */
  readonly opset?: number;
}

/** What `exportGraphModel` returns: the ONNX bytes and the shape of every op node it wrote. */
export interface GraphExport {
  readonly bytes: Uint8Array;
  /** Op nodes written as ONNX tensors of the same name (TF.js hook name → op). */
  readonly layers: ReadonlyMap<string, string>;
  /** Their shapes (null batch). */
  readonly layerShapes: ReadonlyMap<string, Shape>;
}

/** GraphDef ops the exporter writes, for messages and docs. */
export const EXPORTABLE_GRAPH_OPS: readonly string[] = Object.keys(GRAPH_OPS).sort();

interface Probe {
  readonly shape: readonly number[];
  readonly dtype: tf.DataType;
  readonly values?: number[];
}

/**
 * Writes a TF.js graph model (single float input, no control flow) as an ONNX model. The input keeps
 * its name and TF.js shape (NHWC); convolutions and pooling transpose to NCHW around the ONNX op.
 * Runs the graph twice on TF.js (batch 1 and 2, zeros) to learn shapes and fold constants; leaves
 * `tf.memory().numTensors` unchanged.
 * Cost: two forward passes at batch 1 and 2, plus reading every constant.
 * @throws {AttributionError} `capability_missing` naming the first op (and node) the exporter does not write.
 */
export function exportGraphModel(model: GraphModelAdapter, opts: GraphExportOptions = {}): GraphExport {
  const opset = opts.opset ?? 17;
  if (opset < 17) throw new InvalidArgumentError(`Option 'opset' passed to 'exportGraphModel' must be 17 or newer, got ${opset}`, { arg: 'opset' });
  try {
    return writeGraph(model, opset);
  } catch (e) {
    if (isAttributionError(e)) throw e;
    // a graph the checks let through but TF.js or the writer could not handle: not exportable
    throw new CapabilityError(`Graph model '${model.name}' could not be exported to ONNX: ${(e as Error).message.split('\n')[0]}`, { model: model.name }, e);
  }
}

function writeGraph(model: GraphModelAdapter, opset: number): GraphExport {
  const all = model.graphNodes();
  const byName = new Map(all.map((n) => [n.name, n]));
  const { needed, dataDep } = graphPath(all, model.input, model.output);
  for (const n of all) {
    if (n.op === 'Placeholder' && n.name !== model.input && needed.has(n.name)) {
      throw new CapabilityError(`Graph model '${model.name}' has a second input '${n.name}' on the path to its output; the ONNX export writes single-input graphs`, { node: n.name, op: n.op });
    }
  }
  if (!dataDep.has(model.output)) throw new CapabilityError(`Output '${model.output}' of graph model '${model.name}' does not depend on input '${model.input}'`, { node: model.output });
  const dilated = findDilatedConvs(all, needed);
  const folded = new Set([...dilated.values()].flatMap((d) => [d.s2b.name, d.conv.name]));
  // check every op first, so that the error names the first unexportable op before any work
  for (const n of all) {
    if (!needed.has(n.name) || !dataDep.has(n.name) || n.op === 'Placeholder' || folded.has(n.name)) continue;
    if (!Object.hasOwn(GRAPH_OPS, n.op) && !dilated.has(n.name)) {
      throw new CapabilityError(`Node '${n.name}' (${n.op}) of graph model '${model.name}' has no ONNX export; exportable ops are ${EXPORTABLE_GRAPH_OPS.join(', ')}`, { node: n.name, op: n.op });
    }
    for (const t of inputsOf(n)) {
      const [src, k] = splitTensorName(t);
      if (k > 0 && dataDep.has(src) && !MULTI_OUTPUT.has(byName.get(src)?.op ?? '')) {
        throw new CapabilityError(`Node '${n.name}' reads output ${k} of '${src}' (${byName.get(src)?.op}); the ONNX export writes the first output of each op`, { node: src, op: byName.get(src)?.op });
      }
    }
  }
  const tensors = [...new Set(all.filter((n) => needed.has(n.name) && n.op !== 'Placeholder').flatMap((n) => [n.name, ...inputsOf(n)]))].filter((t) => splitTensorName(t)[0] !== model.input);
  // weights are read once: a Const cannot depend on the batch size
  const consts = new Set(all.filter((n) => n.op === 'Const').map((n) => n.name));
  const [p1, p2] = [probe(model, tensors, 1, dataDep), probe(model, tensors, 2, new Set([...dataDep, ...consts]))];

  const g = new GraphWriter();
  const onnxName = new Map<string, string>([[model.input, model.input]]);
  const layers = new Map<string, string>();
  const layerShapes = new Map<string, Shape>();
  const shapeOf = (t: string): Shape => {
    if (splitTensorName(t)[0] === model.input) return model.inputShape;
    const [a, b] = [p1.get(t), p2.get(t)];
    if (!a || !b) throw new CapabilityError(`Tensor '${t}' of graph model '${model.name}' could not be probed`, { tensor: t });
    return a.shape.map((d, i) => (b.shape[i] === d ? d : null));
  };
  const constOf = (t: string): ConstValue | undefined => {
    if (dataDep.has(splitTensorName(t)[0])) return undefined;
    const [a, b] = [p1.get(t), p2.get(t)];
    if (!a?.values) return undefined;
    if (consts.has(splitTensorName(t)[0])) return { shape: a.shape, values: a.values, dtype: a.dtype };
    if (!b?.values) return undefined;
    const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]) && a.values.every((v, i) => v === b.values![i] || (Number.isNaN(v) && Number.isNaN(b.values![i]!)));
    return { shape: a.shape, values: a.values, dtype: a.dtype, ...(same ? {} : { batch2: b.values }) };
  };
  const materialize = (tensor: string): string => {
    const t = tensor.endsWith(':0') ? splitTensorName(tensor)[0] : tensor;
    const known = onnxName.get(t);
    if (known) return known;
    const c = constOf(t);
    if (!c) throw new CapabilityError(`Tensor '${t}' of graph model '${model.name}' is neither computed from the input nor constant`, { tensor: t });
    if (c.batch2) throw new CapabilityError(`Tensor '${t}' of graph model '${model.name}' depends on the batch size where the ONNX export needs a constant`, { tensor: t });
    const name = c.dtype === 'float32' ? g.floats(splitTensorName(t)[0], c.shape, c.values) : g.intsShaped(c.shape, c.values);
    onnxName.set(t, name);
    return name;
  };
  const context = (n: GraphNodeLike, ins: readonly string[], out: string, attrs: Record<string, unknown> = {}): OpContext => ({
    node: n,
    model: model.name,
    out,
    g,
    arity: ins.length,
    input: (i) => materialize(ins[i]!),
    shape: (i) => shapeOf(ins[i]!),
    outShape: shapeOf(out),
    constant: (i) => constOf(ins[i]!),
    dataDependent: (i) => dataDep.has(splitTensorName(ins[i]!)[0]),
    attr: (key) => (Object.hasOwn(attrs, key) ? attrs[key] : n.attrParams?.[key]?.value),
  });
  for (const n of all) {
    if (!needed.has(n.name) || !dataDep.has(n.name) || n.op === 'Placeholder' || folded.has(n.name)) continue;
    const ins = inputsOf(n);
    let ctx = context(n, ins, n.name);
    const chain = dilated.get(n.name);
    if (chain) {
      // SpaceToBatchND → conv → BatchToSpaceND as one dilated conv on the SpaceToBatchND's input
      const [s2bIns, convIns] = [inputsOf(chain.s2b), inputsOf(chain.conv)];
      const need = (t: string, what: string) => constInput(context(n, [t], n.name), 0, what);
      const attrs = dilatedConvAttrs(ctx, chain.conv, { block: need(s2bIns[1]!, 'block shape'), paddings: need(s2bIns[2]!, 'paddings'), block2: need(ins[1]!, 'block shape'), crops: need(ins[2]!, 'crops') });
      ctx = context(chain.conv, [s2bIns[0]!, ...convIns.slice(1)], n.name, attrs);
      GRAPH_OPS[chain.conv.op]!(ctx);
    } else GRAPH_OPS[n.op]!(ctx);
    onnxName.set(n.name, n.name);
    // outputs k > 0 of a multi-output op, as its converter named them
    if (MULTI_OUTPUT.has(n.op)) for (const t of tensors) if (splitTensorName(t)[0] === n.name && splitTensorName(t)[1] > 0) onnxName.set(t, t);
    layers.set(n.name, n.op);
    layerShapes.set(n.name, ctx.outShape);
  }
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const bytes = g.encode(model.name, [{ name: model.input, shape: model.inputShape, elemType: FLOAT }], [{ name: model.output, shape: shapeOf(model.output), elemType: FLOAT }], opset);
  return { bytes, layers, layerShapes };
}

/** Shapes (and values, except for the nodes in `noValues`) of `tensors` at batch `rows`. */
function probe(model: GraphModelAdapter, tensors: readonly string[], rows: number, noValues: ReadonlySet<string>): Map<string, Probe> {
  const dims = model.inputShape.slice(1);
  if (dims.some((d) => d === null)) {
    throw new CapabilityError(`Graph model '${model.name}' has dynamic input dims [${model.inputShape.map((d) => d ?? '*').join(', ')}]; the ONNX export needs every dim but the batch static`, { model: model.name });
  }
  const out = new Map<string, Probe>();
  const x = tf.zeros([rows, ...(dims as number[])]);
  let results: tf.Tensor[] = [];
  try {
    const r = model.model.execute({ [model.input]: x }, [...tensors]);
    results = Array.isArray(r) ? r : [r];
    results.forEach((t, i) => {
      const name = tensors[i]!;
      const keepValues = !noValues.has(splitTensorName(name)[0]) && t.dtype !== 'string' && t.dtype !== 'complex64';
      out.set(name, { shape: t.shape, dtype: t.dtype, ...(keepValues ? { values: Array.from(t.dataSync() as ArrayLike<number>, Number) } : {}) });
    });
  } finally {
    x.dispose();
    // weights come back as the model's own tensors: dispose only what the run made
    const weights = new Set(Object.values(model.model.weights).flat());
    tf.dispose(results.filter((t) => !weights.has(t)));
  }
  return out;
}
