// attrib's own kernels for the graph ops whose TF.js gradient is missing or wrong on a backend:
// a graph model's gradient runs the graph segment by segment (the converter's executor, fed with
// what is computed so far) and computes these nodes itself, so that the tape records ops whose
// gradients are right everywhere.
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNodeLike } from './graph-model.js';
import { maxPool2dFirstMax } from './pooling.js';

const attr = (n: GraphNodeLike, k: string): unknown => n.attrParams?.[k]?.value;
const nums = (n: GraphNodeLike, k: string, d: number[]): number[] => {
  const v = attr(n, k);
  return Array.isArray(v) && v.length > 0 ? v.map(Number) : d;
};
const lower = (n: GraphNodeLike, k: string, d: string): string => String(attr(n, k) ?? d).toLowerCase();
const nhwc = (n: GraphNodeLike): boolean => lower(n, 'dataFormat', 'nhwc') === 'nhwc';
const fusedOps = (n: GraphNodeLike): string[] => (Array.isArray(attr(n, 'fusedOps')) ? (attr(n, 'fusedOps') as unknown[]).map((s) => String(s).toLowerCase()) : []);

/** The ops routed through attrib's kernels (when `routable`): first-max MaxPool, unfused and depthwise-as-dense convolutions, StridedSlice with a scatter gradient. */
export const ROUTED_OPS = new Set(['MaxPool', 'Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'DepthwiseConv2d', 'FusedDepthwiseConv2dNative', 'StridedSlice']);

/** Whether attrib's kernel handles this node (NHWC, supported padding and fused activation). */
export function routable(n: GraphNodeLike): boolean {
  if (!ROUTED_OPS.has(n.op)) return false;
  if (n.op === 'StridedSlice') return true;
  if (!nhwc(n)) return false;
  const pad = lower(n, 'pad', 'valid');
  if (n.op === 'MaxPool') return pad === 'valid' || pad === 'same';
  const ops = fusedOps(n);
  return (pad === 'valid' || pad === 'same' || pad === 'explicit') && (ops.length === 0 || (ops[0] === 'biasadd' && ['', 'relu', 'relu6', 'elu', 'sigmoid', 'tanh', 'leakyrelu', 'prelu'].includes(ops[1] ?? '')));
}

/**
 * The node's output from its input tensors with attrib's kernel (call it inside a tidy or a tape);
 * a depthwise convolution runs as a dense one with a block-diagonal filter, since the backend may
 * lack the depthwise input gradient.
 */
export function routedKernel(n: GraphNodeLike, ins: readonly tf.Tensor[]): tf.Tensor {
  const x = ins[0]!;
  if (n.op === 'MaxPool') {
    const k = nums(n, 'kernelSize', [1, 1, 1, 1]);
    const s = nums(n, 'strides', [1, 1, 1, 1]);
    return maxPool2dFirstMax(x as tf.Tensor4D, { poolSize: [k[1]!, k[2]!], strides: [s[1]!, s[2]!], padding: lower(n, 'pad', 'valid') as 'valid' | 'same' });
  }
  if (n.op === 'StridedSlice') return stridedSliceScatter(n, x, ins);
  const s = nums(n, 'strides', [1, 1, 1, 1]);
  const d = nums(n, 'dilations', [1, 1, 1, 1]);
  const e = nums(n, 'explicitPaddings', []);
  const pad = lower(n, 'pad', 'valid');
  const padding: 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]] =
    pad === 'explicit' ? [[0, 0], [e[2]!, e[3]!], [e[4]!, e[5]!], [0, 0]] : (pad as 'valid' | 'same');
  let w = ins[1] as tf.Tensor4D;
  if (n.op !== 'Conv2D' && n.op !== '_FusedConv2D') {
    // depthwise [kh, kw, c, m] as a dense [kh, kw, c, c·m] filter, zero off the block diagonal
    // (built per call from the weights: a few kB, released with the call's tensors)
    const [kh, kw, c, m] = w.shape;
    const src = w.dataSync();
    const out = new Float32Array(kh * kw * c * c * m);
    for (let p = 0; p < kh * kw; p++) for (let ci = 0; ci < c; ci++) for (let mi = 0; mi < m; mi++) out[(p * c + ci) * c * m + ci * m + mi] = src[(p * c + ci) * m + mi]!;
    w = tf.tensor4d(out, [kh, kw, c, c * m]);
  }
  let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, w, [s[1]!, s[2]!], padding, 'NHWC', [d[1]!, d[2]!]);
  const ops = fusedOps(n);
  if (ops[0] === 'biasadd') y = tf.add(y, ins[2]!);
  switch (ops[1]) {
    case 'relu':
      return tf.relu(y);
    case 'relu6':
      return tf.relu6(y);
    case 'elu':
      return tf.elu(y);
    case 'sigmoid':
      return tf.sigmoid(y);
    case 'tanh':
      return tf.tanh(y);
    case 'leakyrelu':
      return tf.leakyRelu(y, Number(attr(n, 'leakyreluAlpha') ?? 0.2));
    case 'prelu':
      return tf.prelu(y, ins[3]!);
    default:
      return y;
  }
}

/** The flat indices of x that StridedSlice selects, in output order (TF's mask semantics). */
function selected(n: GraphNodeLike, shape: readonly number[], begin: number[], end: number[], strides: number[]): number[] {
  const mask = (k: string) => Number(attr(n, k) ?? 0);
  const bit = (m: number, i: number) => ((m >> i) & 1) === 1;
  const [bm, em, ell, nm, sm] = ['beginMask', 'endMask', 'ellipsisMask', 'newAxisMask', 'shrinkAxisMask'].map(mask) as [number, number, number, number, number];
  let named = 0;
  for (let i = 0; i < begin.length; i++) if (!bit(ell, i) && !bit(nm, i)) named++;
  const perDim: number[][] = [];
  const range = (b: number, e: number, st: number, dim: number) => {
    const out: number[] = [];
    for (let v = b; st > 0 ? v < e : v > e; v += st) out.push(v);
    return out.filter((v) => v >= 0 && v < dim);
  };
  for (let i = 0; i < begin.length; i++) {
    if (bit(ell, i)) {
      for (let k = 0; k < shape.length - named; k++) perDim.push(range(0, shape[perDim.length]!, 1, shape[perDim.length]!));
      continue;
    }
    if (bit(nm, i)) continue;
    const dim = shape[perDim.length]!;
    const st = strides[i]!;
    if (bit(sm, i)) {
      perDim.push([begin[i]! < 0 ? begin[i]! + dim : begin[i]!]);
      continue;
    }
    const norm = (v: number) => (v < 0 ? v + dim : v);
    const clamp = (v: number) => (st > 0 ? Math.min(Math.max(v, 0), dim) : Math.min(Math.max(v, -1), dim - 1));
    const b = bit(bm, i) ? (st > 0 ? 0 : dim - 1) : clamp(norm(begin[i]!));
    const e = bit(em, i) ? (st > 0 ? dim : -1) : clamp(norm(end[i]!));
    perDim.push(range(b, e, st, dim));
  }
  while (perDim.length < shape.length) perDim.push(range(0, shape[perDim.length]!, 1, shape[perDim.length]!));
  let flat = [0];
  for (let k = 0; k < shape.length; k++) flat = flat.flatMap((f) => perDim[k]!.map((v) => f * shape[k]! + v));
  return flat;
}

/** StridedSlice (forward as TF.js computes it) whose gradient scatters dy back to the selected elements. */
function stridedSliceScatter(n: GraphNodeLike, x: tf.Tensor, ins: readonly tf.Tensor[]): tf.Tensor {
  const [begin, end, strides] = [1, 2, 3].map((i) => Array.from(ins[i]!.dataSync(), Number)) as [number[], number[], number[]];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const m = (k: string) => Number(attr(n, k) ?? 0);
    const value = tf.stridedSlice(input, begin, end, strides, m('beginMask'), m('endMask'), m('ellipsisMask'), m('newAxisMask'), m('shrinkAxisMask'));
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const g = dy as tf.Tensor;
        const picks = selected(n, input.shape, begin, end, strides);
        // dx[j] = dy at the position that selected j, else 0 (the extra last element)
        const inverse = new Int32Array(input.size).fill(picks.length);
        picks.forEach((p, k) => (inverse[p] = k));
        return tf.tidy(() => tf.reshape(tf.gather(tf.concat([tf.reshape(g, [-1]), tf.zeros([1])]), tf.tensor1d(inverse, 'int32')), input.shape));
      },
    };
  });
  return f(x);
}
