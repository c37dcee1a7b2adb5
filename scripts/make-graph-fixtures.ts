// Writes the small TF.js graph-model fixtures of test/fixtures/graph/ (model.json GraphDef JSON +
// weights .bin), as the TF.js converter would write them: Const nodes whose values are in the
// weights manifest, fused ops (_FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul) with their
// `fused_ops` attribute, and the dynamic-batch flatten pattern Shape → StridedSlice → Pack → Reshape.
// Run: npx tsx scripts/make-graph-fixtures.ts   (deterministic: seeded weights)
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../src/core/random.js';

type Attr = Record<string, unknown>;
interface GNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const T = { T: { type: 'DT_FLOAT' } };
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const strs = (v: string[]) => ({ list: { s: v.map(b64) } });
const dims = (d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });

class Builder {
  readonly nodes: GNode[] = [];
  private readonly weights: { name: string; shape: number[]; dtype: 'float32' | 'int32'; data: ArrayLike<number> }[] = [];
  constructor(private readonly rng: Rng) {}
  placeholder(name: string, shape: number[]): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims(shape) } } });
    return name;
  }
  const(name: string, shape: number[], data: ArrayLike<number>, dtype: 'float32' | 'int32' = 'float32'): string {
    const dt = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: dt, tensorShape: dims(shape) } }, dtype: { type: dt } } });
    this.weights.push({ name, shape, dtype, data });
    return name;
  }
  ints(name: string, values: number[], shape = [values.length]): string {
    return this.const(name, shape, values, 'int32');
  }
  /** Random weights, N(0, std²), plus `shift`. */
  randn(name: string, shape: number[], std: number, shift = 0): string {
    const n = shape.reduce((a, b) => a * b, 1);
    return this.const(name, shape, Array.from({ length: n }, () => shift + std * this.rng.normal()));
  }
  op(name: string, op: string, input: string[], attr: Attr = {}): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }
  write(dir: string): number {
    mkdirSync(dir, { recursive: true });
    const bytes: Buffer[] = this.weights.map((w) => Buffer.from(w.dtype === 'float32' ? Float32Array.from(w.data).buffer : Int32Array.from(w.data).buffer));
    const bin = Buffer.concat(bytes);
    const json = {
      format: 'graph-model',
      generatedBy: 'attrib scripts/make-graph-fixtures.ts',
      convertedBy: 'hand-written GraphDef (TF.js converter format)',
      modelTopology: { node: this.nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: ['weights.bin'], weights: this.weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
    };
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    writeFileSync(path.join(dir, 'weights.bin'), bin);
    return bin.byteLength;
  }
}

const conv = (strides: number[], padding: string) => ({ ...T, strides: ints(strides), padding: { s: b64(padding) }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]) });
const fused = (ops: string[], numArgs: number, extra: Attr = {}) => ({ fused_ops: strs(ops), num_args: { i: String(numArgs) }, ...extra });
const pool = (k: number, s: number, padding: string) => ({ ...T, ksize: ints([1, k, k, 1]), strides: ints([1, s, s, 1]), padding: { s: b64(padding) }, data_format: { s: b64('NHWC') } });

/** CNN: fused conv + ReLU → MaxPool (ties on ReLU zeros) → fused conv, linear → depthwise → fused depthwise + Relu6 → flatten → dense. */
function cnn(): Builder {
  const g = new Builder(new Rng(1));
  const x = g.placeholder('input', [-1, 12, 12, 3]);
  const c1 = g.op('conv1/Relu', '_FusedConv2D', [x, g.randn('conv1/kernel', [3, 3, 3, 6], 0.4), g.randn('conv1/bias', [6], 0.1)], { ...conv([1, 1, 1, 1], 'SAME'), ...fused(['BiasAdd', 'Relu'], 1) });
  const p1 = g.op('pool1/MaxPool', 'MaxPool', [c1], pool(2, 2, 'VALID'));
  const c2 = g.op('conv2/BiasAdd', '_FusedConv2D', [p1, g.randn('conv2/kernel', [3, 3, 6, 8], 0.3), g.randn('conv2/bias', [8], 0.1)], { ...conv([1, 1, 1, 1], 'VALID'), ...fused(['BiasAdd'], 1) });
  const d1 = g.op('dw1/depthwise', 'DepthwiseConv2dNative', [c2, g.randn('dw1/kernel', [3, 3, 8, 1], 0.4)], conv([1, 1, 1, 1], 'SAME'));
  const d2 = g.op('dw2/Relu6', 'FusedDepthwiseConv2dNative', [d1, g.randn('dw2/kernel', [3, 3, 8, 1], 0.4), g.randn('dw2/bias', [8], 0.1)], { ...conv([1, 2, 2, 1], 'SAME'), ...fused(['BiasAdd', 'Relu6'], 1) });
  // flatten with a dynamic batch: Reshape(x, Pack(StridedSlice(Shape(x), [0], [1], [1], shrink), -1))
  const shape = g.op('flatten/Shape', 'Shape', [d2], { T: { type: 'DT_FLOAT' }, out_type: { type: 'DT_INT32' } });
  const batch = g.op('flatten/strided_slice', 'StridedSlice', [shape, g.ints('flatten/begin', [0]), g.ints('flatten/end', [1]), g.ints('flatten/strides', [1])], { T: { type: 'DT_INT32' }, Index: { type: 'DT_INT32' }, shrink_axis_mask: { i: '1' }, begin_mask: { i: '0' }, end_mask: { i: '0' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' } });
  const target = g.op('flatten/shape', 'Pack', [batch, g.ints('flatten/minus1', [-1], [])], { T: { type: 'DT_INT32' }, N: { i: '2' }, axis: { i: '0' } });
  const flat = g.op('flatten/Reshape', 'Reshape', [d2, target], { ...T, Tshape: { type: 'DT_INT32' } });
  const h = g.op('dense1/Relu', '_FusedMatMul', [flat, g.randn('dense1/kernel', [32, 10], 0.3), g.randn('dense1/bias', [10], 0.1)], { ...T, transpose_a: { b: false }, transpose_b: { b: false }, ...fused(['BiasAdd', 'Relu'], 1) });
  const mm = g.op('dense2/MatMul', 'MatMul', [h, g.randn('dense2/kernel', [10, 4], 0.5)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  const logits = g.op('dense2/BiasAdd', 'BiasAdd', [mm, g.randn('dense2/bias', [4], 0.1)], { ...T, data_format: { s: b64('NHWC') } });
  g.op('Identity', 'Identity', [logits], T);
  return g;
}

/** Many ops in one graph: padding, batch norm, resizing, slicing, reductions and elementwise maths. */
function ops(): Builder {
  const g = new Builder(new Rng(2));
  const x = g.placeholder('input', [-1, 8, 8, 2]);
  const padded = g.op('pad', 'Pad', [x, g.ints('pad/paddings', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2])], { ...T, Tpaddings: { type: 'DT_INT32' } });
  const mirrored = g.op('mirror', 'MirrorPad', [padded, g.ints('mirror/paddings', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2])], { ...T, mode: { s: b64('REFLECT') } });
  const c = g.op('conv/Conv2D', 'Conv2D', [mirrored, g.randn('conv/kernel', [3, 3, 2, 4], 0.4)], conv([1, 1, 1, 1], 'VALID'));
  const cb = g.op('conv/BiasAdd', 'BiasAdd', [c, g.randn('conv/bias', [4], 0.1)], T);
  const bn = g.op('bn/FusedBatchNormV3', 'FusedBatchNormV3', [cb, g.randn('bn/gamma', [4], 0.2, 1), g.randn('bn/beta', [4], 0.1), g.randn('bn/mean', [4], 0.1), g.const('bn/var', [4], [0.5, 0.9, 1.3, 2])], { ...T, epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') }, is_training: { b: false } });
  const elu = g.op('elu', 'Elu', [bn], T); // [N, 10, 10, 4]
  const avg = g.op('avg', 'AvgPool', [elu], pool(3, 2, 'SAME')); // [N, 5, 5, 4]
  const up = g.op('up', 'ResizeBilinear', [avg, g.ints('up/size', [10, 10])], { ...T, align_corners: { b: false }, half_pixel_centers: { b: true } });
  const leaky = g.op('leaky', 'LeakyRelu', [up], { ...T, alpha: { f: 0.1 } });
  const nn = g.op('nn', 'ResizeNearestNeighbor', [leaky, g.ints('nn/size', [5, 5])], { ...T, align_corners: { b: false }, half_pixel_centers: { b: true } });
  const tr = g.op('tr', 'Transpose', [nn, g.ints('tr/perm', [0, 3, 1, 2])], { ...T, Tperm: { type: 'DT_INT32' } }); // [N, 4, 5, 5]
  // strided slices: begin/end masks with a negative stride, an ellipsis with a new axis, a shrink
  const sl = (name: string, input: string, b: number[], e: number[], s: number[], masks: Record<string, number>) =>
    g.op(name, 'StridedSlice', [input, g.ints(`${name}/begin`, b), g.ints(`${name}/end`, e), g.ints(`${name}/strides`, s)], {
      ...T,
      Index: { type: 'DT_INT32' },
      ...Object.fromEntries(['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map((k) => [k, { i: String(masks[k] ?? 0) }])),
    });
  const s1 = sl('slice1', tr, [0, 0, 4, 1], [0, 3, 0, 5], [1, 1, -1, 2], { begin_mask: 1, end_mask: 9 }); // [N, 3, 4, 2]
  const s2 = sl('slice2', s1, [0, 1], [0, 3], [1, 1], { ellipsis_mask: 1, new_axis_mask: 0 }); // [..., 1:3] → [N, 3, 4, 1]
  const s3 = sl('slice3', s2, [0, 2, 0], [0, 3, 0], [1, 1, 1], { begin_mask: 1, end_mask: 5, shrink_axis_mask: 2 }); // x[:, 2, :] → [N, 4, 1]
  const s4 = sl('slice4', s3, [0, 0], [0, 0], [1, 1], { ellipsis_mask: 1, new_axis_mask: 2 }); // x[..., newaxis] → [N, 4, 1, 1]
  const sq = g.op('squeeze', 'Squeeze', [s4], { ...T, squeeze_dims: ints([2, 3]) }); // [N, 4]
  const prelu = g.op('prelu', 'Prelu', [sq, g.const('prelu/alpha', [4], [0.1, 0.2, 0.3, 0.25])], T);
  // per-channel branch: reductions of the NHWC tensor
  const mean = g.op('mean', 'Mean', [nn, g.ints('mean/axes', [1, 2])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } }); // [N, 4]
  const mx = g.op('max', 'Max', [nn, g.ints('max/axes', [1, 2])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } }); // [N, 4]
  const sum = g.op('sum', 'Sum', [g.op('sum/ed', 'ExpandDims', [mean, g.ints('sum/axis', [-1], [])], T), g.ints('sum/axes', [-1])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } }); // [N, 4]
  const cat = g.op('concat', 'ConcatV2', [prelu, mean, mx, sum, g.ints('concat/axis', [-1], [])], { ...T, N: { i: '4' }, Tidx: { type: 'DT_INT32' } }); // [N, 16]
  // elementwise maths on the concatenation (kept in ranges where each op is smooth)
  const w = g.op('dense/MatMul', 'MatMul', [cat, g.randn('dense/kernel', [16, 6], 0.4)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  const sp = g.op('softplus', 'Softplus', [w], T);
  const sqrt = g.op('sqrt', 'Sqrt', [g.op('sqrt/add', 'AddV2', [sp, g.const('one', [], [1])], T)], T);
  const rs = g.op('rsqrt', 'Rsqrt', [sqrt], T);
  const lg = g.op('log', 'Log', [g.op('log/add', 'Add', [sqrt, g.const('half', [], [0.5])], T)], T);
  const ex = g.op('exp', 'Exp', [g.op('exp/neg', 'Neg', [rs], T)], T);
  const sg = g.op('sigmoid', 'Sigmoid', [w], T);
  const th = g.op('tanh', 'Tanh', [g.op('tanh/sub', 'Sub', [w, g.const('shift', [], [0.3])], T)], T);
  const se = g.op('selu', 'Selu', [g.op('selu/div', 'RealDiv', [w, g.const('two', [], [2])], T)], T);
  const r6 = g.op('relu6', 'Relu6', [g.op('relu6/mul', 'Mul', [w, g.const('three', [], [3])], T)], T);
  const ab = g.op('abs', 'Abs', [g.op('abs/max', 'Maximum', [w, g.const('lo', [], [-0.2])], T)], T);
  const mn = g.op('min', 'Minimum', [g.op('square', 'Square', [th], T), g.const('cap', [], [0.8])], T);
  const all = g.op('addn', 'AddN', [lg, ex, sg, se, r6, ab, mn], { ...T, N: { i: '7' } });
  const cast = g.op('cast', 'Cast', [all], { SrcT: { type: 'DT_FLOAT' }, DstT: { type: 'DT_FLOAT' }, Truncate: { b: false } });
  const out = g.op('out/MatMul', 'MatMul', [cast, g.randn('out/kernel', [6, 3], 0.5)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  g.op('softmax', 'Softmax', [out], T);
  return g;
}

/** Dilated convolutions as TF writes them: SpaceToBatchND → conv (VALID) → BatchToSpaceND, with crops. */
function dilated(): Builder {
  const g = new Builder(new Rng(4));
  const x = g.placeholder('input', [-1, 9, 9, 2]);
  // dilation 2, 3×3, SAME on 9×9: paddings [[2, 3], [2, 3]] (to a multiple of the block), crops [[0, 1], [0, 1]]
  const chain = (name: string, input: string, conv: (s2b: string) => string) => {
    const s2b = g.op(`${name}/SpaceToBatchND`, 'SpaceToBatchND', [input, g.ints(`${name}/block_shape`, [2, 2]), g.ints(`${name}/paddings`, [2, 3, 2, 3], [2, 2])], { ...T, Tblock_shape: { type: 'DT_INT32' }, Tpaddings: { type: 'DT_INT32' } });
    return g.op(`${name}/BatchToSpaceND`, 'BatchToSpaceND', [conv(s2b), g.ints(`${name}/block_shape_1`, [2, 2]), g.ints(`${name}/crops`, [0, 1, 0, 1], [2, 2])], { ...T, Tblock_shape: { type: 'DT_INT32' }, Tcrops: { type: 'DT_INT32' } });
  };
  const c1 = chain('atrous1', x, (s) => g.op('atrous1/Conv2D', 'Conv2D', [s, g.randn('atrous1/kernel', [3, 3, 2, 3], 0.4)], conv([1, 1, 1, 1], 'VALID')));
  const r1 = g.op('atrous1/Relu', 'Relu', [g.op('atrous1/BiasAdd', 'BiasAdd', [c1, g.randn('atrous1/bias', [3], 0.1)], T)], T);
  const c2 = chain('atrous2', r1, (s) => g.op('atrous2/depthwise', 'DepthwiseConv2dNative', [s, g.randn('atrous2/kernel', [3, 3, 3, 1], 0.4)], conv([1, 1, 1, 1], 'VALID')));
  const m = g.op('mean', 'Mean', [c2, g.ints('mean/axes', [1, 2])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } });
  g.op('out', 'MatMul', [m, g.randn('out/kernel', [3, 2], 0.5)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  return g;
}

/** Sequence-style ops: BatchMatMulV2 (data × data, adj_y), Slice, Tile, GatherV2, Split/SplitV/Unpack and more elementwise maths. */
function more(): Builder {
  const g = new Builder(new Rng(5));
  const mm = { ...T, adj_x: { b: false }, adj_y: { b: false } };
  const x = g.placeholder('input', [-1, 6, 4]);
  const q = g.op('q', 'BatchMatMulV2', [x, g.randn('q/w', [4, 5], 0.5)], mm); // [N, 6, 5]
  const att = g.op('att', 'BatchMatMulV2', [q, q], { ...mm, adj_y: { b: true } }); // [N, 6, 6]
  const sl = g.op('slice', 'Slice', [att, g.ints('slice/begin', [0, 1, 0]), g.ints('slice/size', [-1, 4, -1])], { ...T, Index: { type: 'DT_INT32' } }); // [N, 4, 6]
  const tile = g.op('tile', 'Tile', [sl, g.ints('tile/reps', [1, 1, 2])], { ...T, Tmultiples: { type: 'DT_INT32' } }); // [N, 4, 12]
  const ga = g.op('gather', 'GatherV2', [tile, g.ints('gather/indices', [0, 2, 3]), g.ints('gather/axis', [1], [])], { Tparams: { type: 'DT_FLOAT' }, Tindices: { type: 'DT_INT32' }, Taxis: { type: 'DT_INT32' }, batch_dims: { i: '0' } }); // [N, 3, 12]
  const u = g.op('scale', 'Mul', [ga, g.const('scale/k', [], [0.3])], T);
  const sin = g.op('sin', 'Sin', [u], T);
  const cos = g.op('cos', 'Cos', [u], T);
  const erf = g.op('erf', 'Erf', [u], T);
  const pos = g.op('pos', 'AddV2', [g.op('pos/abs', 'Abs', [u], T), g.const('pos/one', [], [1])], T);
  const pw = g.op('pow', 'Pow', [pos, g.const('pow/e', [], [1.5])], T);
  const sqd = g.op('sqd', 'SquaredDifference', [sin, cos], T);
  const clip = g.op('clip', 'ClipByValue', [u, g.const('clip/lo', [], [-0.5]), g.const('clip/hi', [], [0.5])], T);
  const l1p = g.op('log1p', 'Log1p', [pos], T);
  const em1 = g.op('expm1', 'Expm1', [g.op('expm1/neg', 'Neg', [pos], T)], T);
  const rec = g.op('reciprocal', 'Reciprocal', [pos], T);
  const sg = g.op('signed', 'Mul', [g.op('sign', 'Sign', [u], T), u], T);
  // Floor and Round: zero gradient; scaled down so that their jumps stay below the finite differences' tolerance
  const fl = g.op('floored', 'Mul', [g.op('floored/add', 'AddV2', [g.op('floor', 'Floor', [u], T), g.op('round', 'Round', [u], T)], T), g.const('floored/k', [], [1e-4])], T);
  const sum = g.op('sum', 'AddN', [sin, cos, erf, pw, sqd, clip, l1p, em1, rec, sg, fl], { ...T, N: { i: '11' } }); // [N, 3, 12]
  const mn = g.op('min', 'Min', [sum, g.ints('min/axes', [1])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } }); // [N, 12]
  // multi-output ops: Unpack, SplitV (a −1 size), Split; their outputs read as `node:k`
  const un = g.op('unpack', 'Unpack', [ga], { ...T, num: { i: '3' }, axis: { i: '1' } }); // 3 × [N, 12]
  const unsum = g.op('unpack/sum', 'AddN', [un, `${un}:1`, `${un}:2`], { ...T, N: { i: '3' } });
  const sv = g.op('splitv', 'SplitV', [ga, g.ints('splitv/sizes', [1, -1]), g.ints('splitv/axis', [1], [])], { ...T, Tlen: { type: 'DT_INT32' }, num_split: { i: '2' } });
  const vfirst = g.op('splitv/first', 'Squeeze', [sv], { ...T, squeeze_dims: ints([1]) });
  const vrest = g.op('splitv/rest', 'Sum', [`${sv}:1`, g.ints('splitv/rest/axes', [1])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } });
  const sp = g.op('split', 'Split', [g.ints('split/axis', [2], []), ga], { ...T, num_split: { i: '2' } }); // 2 × [N, 3, 6]
  const swapped = g.op('split/swap', 'ConcatV2', [`${sp}:1`, sp, g.ints('split/swap/axis', [2], [])], { ...T, N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
  const spsum = g.op('split/sum', 'Sum', [g.op('split/sq', 'Mul', [swapped, ga], T), g.ints('split/sum/axes', [1])], { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } });
  const all = g.op('all', 'AddN', [mn, unsum, vfirst, vrest, spsum], { ...T, N: { i: '5' } }); // [N, 12]
  g.op('out', 'MatMul', [all, g.randn('out/w', [12, 3], 0.5)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  return g;
}

/** A graph with an op the ONNX export does not write (Atan): it stays on TF.js. */
function atan(): Builder {
  const g = new Builder(new Rng(3));
  const x = g.placeholder('input', [-1, 6]);
  const h = g.op('dense/MatMul', 'MatMul', [x, g.randn('dense/kernel', [6, 5], 0.5)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  const a = g.op('atan', 'Atan', [h], T);
  g.op('out', 'MatMul', [a, g.randn('out/kernel', [5, 3], 0.5)], { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
  return g;
}

/** Einsum: neither converted to ONNX nor differentiable on TF.js (no registered gradient): refused by name. */
function einsum(): Builder {
  const g = new Builder(new Rng(6));
  const x = g.placeholder('input', [-1, 4]);
  g.op('einsum', 'Einsum', [x, g.randn('einsum/w', [4, 3], 0.5)], { ...T, equation: { s: b64('ij,jk->ik') }, N: { i: '2' } });
  return g;
}

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'test', 'fixtures', 'graph');
for (const [name, build] of [['cnn', cnn], ['ops', ops], ['dilated', dilated], ['more', more], ['atan', atan], ['einsum', einsum]] as const) {
  const bytes = build().write(path.join(root, name));
  console.log(`${name}: ${bytes} weight bytes`);
}
