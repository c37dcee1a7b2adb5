// The ONNX graph being written by an exporter: nodes, initializers and fresh names.
import { floatTensor, int64Tensor, node } from '../graph/build.js';
import { onnx, type AttributeProto, type NodeProto, type TensorProto } from '../graph/proto.js';

/** A static shape; null for the batch and dynamic dims. */
export type Shape = readonly (number | null)[];

/** A graph input or output of the written model. */
export interface WrittenValue {
  readonly name: string;
  readonly shape: Shape;
  readonly elemType: number;
}

/** Nodes and initializers of the graph being written, with fresh names. */
export class GraphWriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;
  private readonly weightNames = new Map<object, string>();

  /** Emits a node; its output is `out` or a fresh name. Returns the output name. */
  op(type: string, inputs: string[], attributes: AttributeProto[] = [], out?: string): string {
    const name = out ?? `attrib_export_${type.toLowerCase()}_${this.counter++}`;
    this.nodes.push(node(type, inputs, [name], attributes));
    return name;
  }
  /** Emits a node with several outputs, named `outs`. */
  opOuts(type: string, inputs: string[], attributes: AttributeProto[], outs: readonly string[]): void {
    this.nodes.push(node(type, inputs, [...outs], attributes));
  }
  floats(hint: string, dims: readonly number[], values: ArrayLike<number>): string {
    const name = `${hint}_${this.counter++}`;
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }
  ints(values: readonly number[]): string {
    return this.intsShaped([values.length], values);
  }
  /** An int64 initializer of any shape (TF.js int32 tensors are written as int64). */
  intsShaped(dims: readonly number[], values: readonly number[]): string {
    const name = `attrib_export_ints_${this.counter++}`;
    this.initializers.push(int64Tensor(name, dims, values));
    return name;
  }
  /** One initializer per weight variable (shared layers write theirs once). */
  weight(key: object, hint: string, dims: readonly number[], values: () => ArrayLike<number>): string {
    const known = this.weightNames.get(key);
    if (known) return known;
    const name = this.floats(hint, dims, values());
    this.weightNames.set(key, name);
    return name;
  }
  encode(name: string, inputs: readonly WrittenValue[], outputs: readonly WrittenValue[], opset: number): Uint8Array {
    const value = (v: WrittenValue) => ({
      name: v.name,
      type: { tensorType: { elemType: v.elemType, shape: { dim: v.shape.map((d, i) => (d === null ? { dimParam: i === 0 ? 'N' : `${v.name}_d${i}` } : { dimValue: d })) } } },
    });
    const proto = onnx.ModelProto.fromObject({
      irVersion: 8,
      producerName: 'attrib',
      opsetImport: [{ domain: '', version: opset }],
      graph: { name, node: this.nodes, input: inputs.map(value), output: outputs.map(value), initializer: this.initializers },
    });
    return onnx.ModelProto.encode(proto).finish();
  }
}

