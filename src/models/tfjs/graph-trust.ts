// Whether TF.js autodiff gives correct input gradients through a graph model's ops on a backend:
// checked before any work, so that a graph model never returns a wrong gradient and never fails
// half-way through a method.
import * as tf from '@tensorflow/tfjs-core';
import type { GraphNodeLike } from './graph-model.js';
import { routable } from './graph-routed.js';

/** The op on the path that blocks gradients, and why. */
export interface GradientBlocker {
  readonly node: string;
  readonly op: string;
  readonly reason: string;
}

/** GraphDef op → the TF.js kernel whose registered gradient the converter's op uses (when named differently). */
const KERNEL_OF: Readonly<Record<string, string>> = {
  MatMul: 'BatchMatMul',
  BatchMatMulV2: 'BatchMatMul',
  _FusedMatMul: 'BatchMatMul', // fused: customGrad built on matMul (kernels present on every backend)
  AddV2: 'Add',
  BiasAdd: 'Add',
  Mul: 'Multiply',
  Div: 'RealDiv',
  ConcatV2: 'Concat',
  Pad: 'PadV2',
  ExpandDims: 'Reshape',
  Squeeze: 'Reshape',
  Snapshot: 'Identity',
  StopGradient: 'Identity',
  FusedBatchNormV2: 'FusedBatchNorm',
  FusedBatchNormV3: 'FusedBatchNorm',
  DepthwiseConv2d: 'DepthwiseConv2dNative',
  FusedDepthwiseConv2dNative: 'DepthwiseConv2dNative',
  _FusedConv2D: 'Conv2D',
};

/** Ops that have a TF.js gradient but are wrong on some backend: backend (or '*' for all) → reason. */
const WRONG_ON: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  MaxPool: { wasm: "the wasm backend's MaxPool gradient goes to the last maximum on ties and drops all-zero windows (wrong gradients)" },
  ResizeNearestNeighbor: { cpu: "the cpu backend's ResizeNearestNeighborGrad returns NaN for some elements (TF.js 4.22)" },
  MirrorPad: { '*': "TF.js's MirrorPad gradient drops the reflected copies (d/dx Σ mirrorPad([a, b, c], 1) gives [1, 1, 1], not [1, 3, 1])" },
};

/** The fused activation of a fused op ('' when linear). */
const fusedActivation = (n: GraphNodeLike): string => {
  const ops = n.attrParams?.['fusedOps']?.value;
  return Array.isArray(ops) ? String(ops[1] ?? '').toLowerCase() : '';
};

/** Backward kernels an op's gradient runs on `backend` (only those that input gradients need). */
function backwardKernels(n: GraphNodeLike): string[] {
  switch (n.op) {
    case 'Conv2D':
      return ['Conv2DBackpropInput'];
    case '_FusedConv2D':
      // linear fused conv keeps its customGrad, which computes the filter gradient too
      return fusedActivation(n) === '' ? ['Conv2DBackpropInput', 'Conv2DBackpropFilter'] : ['Conv2DBackpropInput'];
    case 'DepthwiseConv2dNative':
    case 'DepthwiseConv2d':
      return ['DepthwiseConv2dNativeBackpropInput'];
    case 'FusedDepthwiseConv2dNative':
      return fusedActivation(n) === '' ? ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'] : ['DepthwiseConv2dNativeBackpropInput'];
    case 'MaxPool':
      return ['MaxPoolGrad'];
    case 'AvgPool':
      return ['AvgPoolGrad'];
    case 'ResizeBilinear':
      return ['ResizeBilinearGrad'];
    case 'ResizeNearestNeighbor':
      return ['ResizeNearestNeighborGrad'];
    default:
      return [];
  }
}

/** Why TF.js cannot give a correct input gradient through `n` on `backend`, or undefined. */
function problem(n: GraphNodeLike, backend: string): string | undefined {
  const kernel = KERNEL_OF[n.op] ?? n.op;
  if (!tf.getGradient(kernel)) return `TF.js has no gradient for ${n.op}`;
  const wrong = WRONG_ON[n.op]?.[backend] ?? WRONG_ON[n.op]?.['*'];
  if (wrong) return wrong;
  const missing = backwardKernels(n).find((k) => !tf.getKernel(k, backend));
  return missing ? `its gradient needs the ${missing} kernel, which the ${backend} backend does not have` : undefined;
}

/**
 * The path's nodes (topological order) whose TF.js gradient is missing or wrong on `backend` but
 * that attrib computes with its own kernels (`routedKernel`): MaxPool on wasm, linear fused and
 * depthwise convolutions on wasm, StridedSlice everywhere.
 */
export const routedNodes = (path: readonly GraphNodeLike[], backend: string): GraphNodeLike[] => path.filter((n) => problem(n, backend) !== undefined && routable(n));

/**
 * The first op on the path (topological order) through which neither TF.js nor attrib's own
 * kernels give a correct input gradient on `backend`: an op without a registered gradient, a
 * gradient that needs a kernel the backend lacks, or one known to be wrong there, that attrib does
 * not route (see `routedNodes`). Undefined when every op is fine.
 */
export function gradientBlocker(path: readonly GraphNodeLike[], backend: string): GradientBlocker | undefined {
  for (const n of path) {
    const reason = problem(n, backend);
    if (reason !== undefined && !routable(n)) return { node: n.name, op: n.op, reason };
  }
  return undefined;
}
