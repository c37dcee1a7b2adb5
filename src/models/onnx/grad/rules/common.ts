// What the VJP rules share: the compiler interface they emit through, and helpers for building nodes.
import { AttributionError } from '../../../../core/errors.js';
import { intAttr, node } from '../../graph/build.js';
import type { NodeProto } from '../../graph/proto.js';

/** What a rule can ask of the compiler. */
export interface RuleContext {
  /** A fresh tensor name. */
  fresh(hint: string): string;
  /** Static shape of a tensor from the probe run (batch = 1). */
  shape(name: string): readonly number[];
  /**
   * Axes of the tensor whose extent follows the batch (the rows of one run): rules whose backward
   * bakes in static extents (slice pads, split sizes, one-hot depths) refuse to cut along them.
   * From a probe with two rows when the compiler has one, else axis 0.
   */
  batchAxes(name: string): readonly number[];
  /** True when the tensor depends on the differentiated input (needs a cotangent). */
  onPath(name: string): boolean;
  /** The model's default-domain opset (13 or newer). */
  readonly opset: number;
  /** Name of a float scalar 0 constant. */
  readonly zero: string;
  /** Name of a float scalar constant with this value. */
  scalar(value: number): string;
  /** An int64 1-D constant, for axes and shapes. */
  ints(values: readonly number[]): string;
  /** A float constant tensor. */
  constantTensor(dims: readonly number[], values: readonly number[]): string;
  /** The values of an int64 initializer or Constant node, when the graph has them. */
  constantInts(name: string): number[] | undefined;
  /** The values of a float initializer or Constant node, when the graph has them. */
  constantFloats(name: string): number[] | undefined;
  /** Raises the backward graph's opset (e.g. 16 for ScatterElements with add-reduction). */
  requireOpset(version: number): void;
  /**
   * True when ORT's blocked-channel (NCHWc) kernels will run the graph (onnxruntime-node on x86):
   * rules then prefer ops that stay in that layout (Conv, BatchNormalization, activations, Mul, Add)
   * over ops that force a reorder to plain NCHW and back (Where, Greater).
   */
  readonly blockedLayout: boolean;
  /** Rewrites a forward node (e.g. MaxPool gains an Indices output). */
  replaceForward(original: NodeProto, replacement: NodeProto): void;
  emit(n: NodeProto): void;
}

/**
 * Returns the cotangent names of the node's inputs (undefined for inputs off the path). `dy` is the
 * first output's cotangent; `dys` has every output's (undefined where none flows back).
 */
export type VjpRule = (n: NodeProto, dy: string, ctx: RuleContext, dys: readonly (string | undefined)[]) => (string | undefined)[];

/**
 * The doc_string of a Max node whose ties go wholly to its first maximal input (MaxPool's arg-max
 * convention), set by the rewrite that writes a max pool in phase form (rewrite/simplify.ts). Any other
 * Max or Min shares the cotangent evenly among tied inputs, as PyTorch's maximum and minimum do.
 */
export const TIES_TO_FIRST = 'attrib: ties go to the first maximal input';

export const unsupported = (n: NodeProto, why: string): AttributionError =>
  new AttributionError('capability_missing', `ONNX op '${n.opType}' (node '${n.name}') has no gradient rule here: ${why}`, { details: { op: n.opType, node: n.name } });

export const first = (n: NodeProto): string => n.input![0]!;

export function attrOrEmpty(n: NodeProto, name: string): string {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : '';
}

/** The cotangent of an elementwise operand: dY summed over the axes the operand was broadcast along. */
export function unbroadcast(n: NodeProto, x: string, dy: string, ctx: RuleContext): string {
  return sumTo(n, dy, ctx.shape(n.output![0]!), x, ctx);
}

/** `t` (static shape `ts`) summed over the axes along which `x` was broadcast to it, shaped as `x`. */
export function sumTo(n: NodeProto, t: string, ts: readonly number[], x: string, ctx: RuleContext): string {
  const xs = ctx.shape(x);
  if (xs.length === ts.length && xs.every((d, i) => d === ts[i])) return t;
  const lead = ts.length - xs.length;
  const axes = ts.map((_, i) => i).filter((i) => i < lead || (xs[i - lead] === 1 && ts[i] !== 1));
  if (axes.includes(0) && lead > 0) throw unsupported(n, 'an operand broadcast along the batch dimension');
  const summed = axes.length > 0 ? op(ctx, 'ReduceSum', [t, ctx.ints(axes)], [intAttr('keepdims', 1)]) : t;
  return op(ctx, 'Reshape', [summed, op(ctx, 'Shape', [x])]);
}

/** Emits one node with a fresh output and returns the output's name. */
export function op(ctx: RuleContext, type: string, inputs: string[], attributes: ReturnType<typeof intAttr>[] = []): string {
  const out = ctx.fresh(type.toLowerCase());
  ctx.emit(node(type, inputs, [out], attributes));
  return out;
}

export const mulAll = (ctx: RuleContext, ...xs: string[]): string => xs.slice(1).reduce((acc, x) => op(ctx, 'Mul', [acc, x]), xs[0]!);

export const sub = (ctx: RuleContext, a: string, b: string): string => op(ctx, 'Sub', [a, b]);

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/**
 * Backward of a normalisation x̂ = (x − μ)·r, r = 1/√(σ² + ε), over `axes` (`count` elements), given
 * g = dy·γ: dx = r·(g − mean(g) − x̂·mean(g·x̂)). LayerNormalization and InstanceNormalization.
 */
export function normalizationBack(ctx: RuleContext, x: string, g: string, axes: readonly number[], count: number, eps: number): string {
  const mean = (t: string) => mulAll(ctx, op(ctx, 'ReduceSum', [t, ctx.ints(axes)], [intAttr('keepdims', 1)]), ctx.scalar(1 / count));
  const xc = sub(ctx, x, mean(x));
  const r = op(ctx, 'Reciprocal', [op(ctx, 'Sqrt', [op(ctx, 'Add', [mean(mulAll(ctx, xc, xc)), ctx.scalar(eps)])])]);
  const xhat = mulAll(ctx, xc, r);
  return mulAll(ctx, r, sub(ctx, sub(ctx, g, mean(g)), mulAll(ctx, xhat, mean(mulAll(ctx, g, xhat)))));
}
