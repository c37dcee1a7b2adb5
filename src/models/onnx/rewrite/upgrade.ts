// Opset upgrade: a model of default-domain opset 7–12 rewritten in opset-13 forms, so the backward
// compiler (whose rules read and emit opset-13 ops) can differentiate it. Every rewrite keeps the
// forward values (tested against ONNX Runtime on both versions):
// - attributes that became inputs: Split `split`, Squeeze/Unsqueeze/ReduceSum `axes`, Clip `min`/`max`
//   (opset < 11), Pad `pads`/`value` (< 11), Slice `starts`/`ends`/`axes` (< 10), TopK `k` (< 10),
//   Dropout `ratio` (< 12; inference Dropout is the identity);
// - Softmax, LogSoftmax and Hardmax before 13 coerce their input to 2-D at `axis` (default 1): written
//   as Flatten(axis) → op(axis = −1) → Reshape back to the input's shape;
// - Upsample (7–9) and Resize-10 → Resize-13 with the `asymmetric` coordinates they use (nearest:
//   floor when enlarging, ceil when shrinking, as ONNX Runtime's pre-11 kernels); Scatter → ScatterElements;
// - BatchNormalization: `spatial` (7–8) must be 1 and is dropped; unread training outputs are dropped.
// Ops not known to keep their meaning between the model's opset and 13 are refused by name.
import { AttributionError } from '../../../core/errors.js';
import { attr, attrInt, attrInts, floatTensor, floatValues, freshNames, int64Tensor, intAttr, node } from '../graph/build.js';
import { onnx, type AttributeProto, type GraphProto, type ModelProto, type NodeProto } from '../graph/proto.js';

/** The opset the upgrade writes. */
export const TARGET_OPSET = 13;
/** The oldest opset the upgrade reads. */
export const OLDEST_OPSET = 7;

/** Default-domain ops whose signature and meaning do not change from opset 7 to 13 (types aside). */
const UNCHANGED = new Set(
  (
    'Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BitShift Cast Ceil Celu Compress Concat ConcatFromSequence Constant ' +
    'ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Det Div DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand ' +
    'EyeLike Flatten Floor GRU Gather GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual HardSigmoid ' +
    'Identity If InstanceNormalization IsInf IsNaN LRN LSTM LeakyRelu Less LessOrEqual Log Loop LpNormalization LpPool MatMul MatMulInteger Max ' +
    'MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization Min Mod Mul Multinomial Neg NegativeLogLikelihoodLoss NonMaxSuppression NonZero Not OneHot Or PRelu Pow ' +
    'QLinearConv QLinearMatMul QuantizeLinear RNN RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ' +
    'ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSumSquare Relu Reshape ReverseSequence RoiAlign Round ' +
    'ScatterElements ScatterND Selu SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength Shape Shrink Sigmoid Sign Sin Sinh Size ' +
    'Softplus Softsign SoftmaxCrossEntropyLoss SpaceToDepth SplitToSequence Sqrt Sub Sum Tan Tanh TfIdfVectorizer ThresholdedRelu Tile Transpose Unique Where Xor'
  ).split(' '),
);

/** What `upgradeOpset` did. */
export interface UpgradeReport {
  /** The model's default-domain opset before. */
  readonly from: number;
  /** Op types rewritten (each once). */
  readonly rewritten: readonly string[];
}

const defaultOpset = (m: ModelProto): number => Number(m.opsetImport?.find((o) => (o.domain ?? '') === '')?.version ?? 0);

/**
 * A copy of `model` in opset-13 forms (the model itself when its opset is already 13 or newer).
 * Forward values are unchanged. Subgraphs (If, Loop, Scan bodies) are upgraded too.
 * @throws {AttributionError} `capability_missing` naming the first op (and node) that cannot be
 *   upgraded, or the opset when it is older than 7.
 */
export function upgradeOpset(model: ModelProto): { model: ModelProto; report: UpgradeReport } {
  const from = defaultOpset(model);
  if (from >= TARGET_OPSET) return { model, report: { from, rewritten: [] } };
  if (from < OLDEST_OPSET) {
    throw new AttributionError('capability_missing', `ONNX opset ${from} is older than attrib's opset upgrade reads (${OLDEST_OPSET}–12): re-export the model with opset_version >= 13; forward-only methods still work`, {
      details: { opset: from },
    });
  }
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const up = new Upgrader(copy, from);
  up.graph(copy.graph!, true);
  for (const imp of copy.opsetImport) if ((imp.domain ?? '') === '') imp.version = TARGET_OPSET;
  if (Number(copy.irVersion ?? 0) < 7) copy.irVersion = 7;
  return { model: copy, report: { from, rewritten: [...up.rewritten] } };
}

class Upgrader {
  readonly rewritten = new Set<string>();
  private readonly floatConsts = new Map<string, number[]>();
  private readonly names = new Set<string>();
  private readonly fresh = freshNames('attrib_up', this.names);

  constructor(
    model: ModelProto,
    private readonly from: number,
  ) {
    const walk = (g: GraphProto): void => {
      for (const t of g.initializer ?? []) {
        this.names.add(t.name ?? '');
        const v = floatValues(t);
        if (v) this.floatConsts.set(t.name ?? '', Array.from(v));
      }
      for (const n of g.node ?? []) {
        const value = n.opType === 'Constant' ? floatValues(n.attribute?.find((a) => a.name === 'value')?.t ?? undefined) : undefined;
        if (value) this.floatConsts.set(n.output?.[0] ?? '', Array.from(value));
        for (const t of [...(n.input ?? []), ...(n.output ?? [])]) this.names.add(t);
        for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) walk(sub);
      }
    };
    walk(model.graph!);
  }

  /** Upgrades one graph in place (`main`: the model's graph, whose initializers may hold new constants). */
  graph(g: GraphProto, main: boolean): void {
    const read = new Set<string>([...(g.node ?? []).flatMap((n) => n.input ?? []), ...(g.output ?? []).map((o) => o.name ?? '')]);
    const out: NodeProto[] = [];
    const consts: ReturnType<typeof floatTensor>[] = [];
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) this.graph(sub, false);
      if (n.domain && n.domain !== 'ai.onnx') {
        out.push(n);
        continue;
      }
      const replaced = this.node(n, read, consts);
      if (replaced === n) {
        out.push(n);
        continue;
      }
      this.rewritten.add(n.opType ?? '');
      out.push(...(replaced as NodeProto[]).map((r) => onnx.NodeProto.fromObject(r as Record<string, unknown>)));
    }
    // constants of a subgraph go in as Constant nodes (initializers of a body are local to it)
    if (main) g.initializer = [...(g.initializer ?? []), ...consts.map((t) => onnx.TensorProto.fromObject(t as Record<string, unknown>))];
    else out.unshift(...consts.map((t) => onnx.NodeProto.fromObject({ ...node('Constant', [], [t.name!]), attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t }] })));
    g.node = out;
  }

  /** The node's opset-13 replacement: the node itself when unchanged, else a list of nodes. */
  private node(n: NodeProto, read: ReadonlySet<string>, consts: ReturnType<typeof floatTensor>[]): NodeProto | NodeProto[] {
    const op = n.opType ?? '';
    const ints = (values: readonly number[]) => {
      const name = this.fresh('ints');
      consts.push(int64Tensor(name, [values.length], values));
      return name;
    };
    const float = (value: number) => {
      const name = this.fresh('float');
      consts.push(floatTensor(name, [], [value]));
      return name;
    };
    const without = (...drop: string[]): AttributeProto[] => (n.attribute ?? []).filter((a) => !drop.includes(a.name ?? ''));
    const withInputs = (inputs: string[], drop: string[]): NodeProto[] => [{ ...n, input: inputs, attribute: without(...drop) }];
    const input = (i: number) => n.input?.[i] ?? '';
    switch (op) {
      case 'Split': {
        const split = attr(n, 'split');
        return Array.isArray(split) ? withInputs([input(0), ints(split)], ['split']) : n;
      }
      case 'Squeeze':
      case 'Unsqueeze':
      case 'ReduceSum': {
        const axes = attr(n, 'axes');
        return Array.isArray(axes) ? withInputs([input(0), ints(axes)], ['axes']) : n;
      }
      case 'Clip': {
        if (this.from >= 11) return n;
        const lo = attr(n, 'min');
        const hi = attr(n, 'max');
        return withInputs([input(0), typeof lo === 'number' ? float(lo) : '', typeof hi === 'number' ? float(hi) : ''], ['min', 'max']);
      }
      case 'Pad': {
        if (this.from >= 11) return n;
        const value = attr(n, 'value');
        return withInputs([input(0), ints(attrInts(n, 'pads', [])), typeof value === 'number' && value !== 0 ? float(value) : ''], ['pads', 'value']);
      }
      case 'Slice': {
        if (this.from >= 10) return n;
        const starts = attrInts(n, 'starts', []);
        const axes = attrInts(n, 'axes', starts.map((_, i) => i));
        return withInputs([input(0), ints(starts), ints(attrInts(n, 'ends', [])), ints(axes)], ['starts', 'ends', 'axes']);
      }
      case 'TopK':
        return this.from >= 10 ? n : withInputs([input(0), ints([attrInt(n, 'k', 1)])], ['k']);
      case 'Dropout': {
        const mask = n.output?.[1];
        if (!mask || !read.has(mask)) return [node('Identity', [input(0)], [n.output![0]!], [], n.name ?? undefined)];
        if (this.from >= 12) return n;
        const ratio = attr(n, 'ratio');
        return withInputs([input(0), typeof ratio === 'number' ? float(ratio) : ''], ['ratio', 'is_test']);
      }
      case 'Softmax':
      case 'LogSoftmax':
      case 'Hardmax': {
        // pre-13: y = op over the 2-D view [∏ dims before axis, ∏ dims from axis]
        const axis = attrInt(n, 'axis', 1);
        // the last axis: the 2-D view changes nothing (Flatten takes negative axes from opset 11 on)
        if (axis === -1) return [{ ...n, attribute: [...without('axis'), intAttr('axis', -1)] }];
        const flat = this.fresh('flat');
        const soft = this.fresh('soft2d');
        const shape = this.fresh('shape');
        return [
          node('Flatten', [input(0)], [flat], [intAttr('axis', axis)]),
          { ...node(op, [flat], [soft], [intAttr('axis', -1)]), name: n.name ?? soft },
          node('Shape', [input(0)], [shape]),
          node('Reshape', [soft, shape], [n.output![0]!], [], this.fresh('reshape')),
        ];
      }
      case 'Upsample':
      case 'Resize': {
        if (op === 'Resize' && this.from >= 11) return n;
        const mode = (attr(n, 'mode') as string | undefined) ?? 'nearest';
        if (mode !== 'nearest' && mode !== 'linear') throw this.refuse(n, `mode '${mode}'`);
        const attrScales = attr(n, 'scales');
        const scales = Array.isArray(attrScales) ? attrScales : undefined;
        const scalesInput = scales ? this.floats(scales, consts) : input(1);
        let nearest = 'floor';
        if (mode === 'nearest') {
          if (!scales && !this.constantFloats(scalesInput)) throw this.refuse(n, 'nearest mode with scales computed at run time');
          const s = scales ?? this.constantFloats(scalesInput)!;
          if (s.every((v) => v <= 1) && s.some((v) => v < 1)) nearest = 'ceil';
          else if (!s.every((v) => v >= 1)) throw this.refuse(n, 'nearest mode that enlarges some axes and shrinks others');
        }
        const str = (name: string, value: string): AttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) });
        const attrs = [str('mode', mode), str('coordinate_transformation_mode', 'asymmetric'), ...(mode === 'nearest' ? [str('nearest_mode', nearest)] : [])];
        return [{ ...node('Resize', [input(0), '', scalesInput], [n.output![0]!], attrs), name: n.name ?? n.output![0]! }];
      }
      case 'Scan':
        if (this.from >= 9) return n;
        throw this.refuse(n, 'Scan-8 takes a batch axis that Scan-9 and later do not');
      case 'Scatter':
        return [{ ...n, opType: 'ScatterElements' }];
      case 'BatchNormalization': {
        if (attrInt(n, 'spatial', 1) !== 1) throw this.refuse(n, 'spatial = 0 (per-element statistics)');
        const extra = (n.output ?? []).slice(1).filter((o) => o && read.has(o));
        if (extra.length > 0) throw this.refuse(n, 'training-mode outputs (running mean and variance) that the graph reads');
        return [{ ...n, output: [n.output![0]!], attribute: without('spatial', 'is_test', 'consumed_inputs') }];
      }
      default:
        if (UNCHANGED.has(op)) return n;
        throw this.refuse(n, `no upgrade from opset ${this.from} to ${TARGET_OPSET} is known for it`);
    }
  }

  private floats(values: readonly number[], consts: ReturnType<typeof floatTensor>[]): string {
    const name = this.fresh('scales');
    consts.push(floatTensor(name, [values.length], values));
    this.floatConsts.set(name, [...values]);
    return name;
  }

  /** The values of a float constant (initializer, Constant node, or one this upgrade made). */
  private constantFloats(name: string): number[] | undefined {
    return this.floatConsts.get(name);
  }

  private refuse(n: NodeProto, why: string): AttributionError {
    return new AttributionError('capability_missing', `ONNX op '${n.opType}' (node '${n.name}') cannot be upgraded from opset ${this.from} to ${TARGET_OPSET}: ${why}; re-export the model with opset_version >= 13 (forward-only methods still work)`, {
      details: { op: n.opType, node: n.name, opset: this.from },
    });
  }
}
