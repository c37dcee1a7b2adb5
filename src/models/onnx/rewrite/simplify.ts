// Rewrites of a forward graph before its backward graph is compiled. Each keeps the value of every
// tensor that remains in the graph (so graph inputs and outputs, hook names included, are untouched)
// and makes the vector–Jacobian graph cheaper:
// - layout transposes sunk through elementwise ops, reductions and Concat, and cancelled in pairs.
//   The TF.js exporter and tf2onnx wrap every channels-first op in NHWC↔NCHW transposes; ORT removes
//   them from a forward session, but a VJP graph that reads the intermediate tensors keeps them, and
//   their backward rules add as many again, each a full pass over an activation;
// - Relu→MaxPool reordered as MaxPool→Relu (max∘relu = relu∘max, and the first arg-max is the same
//   element): the ReLU mask of the backward runs at the pooled resolution;
// - inference BatchNormalization folded into the convolution before it: no per-channel Mul in the
//   backward (ORT folds it in the forward session too);
// - a 2×2/2 MaxPool of a stride-1 convolution with few input channels (an RGB stem) computed in
//   phase form: one stride-2 convolution gives the four window positions as four channel blocks
//   and the pool is their elementwise Max (ties to the first block, as MaxPool's arg-max). The
//   backward then routes the cotangent with a few pooled-size elementwise ops instead of
//   MaxPool's slow arg-max Indices + MaxUnpool, and its input gradient is one stride-2
//   ConvTranspose over a quarter of the positions instead of a full-size one.
import { attr, attrInt, attrInts, floatTensor, floatValues, freshNames, int64Values, intAttr, intsAttr, node, permute } from '../graph/build.js';
import { graphOf, onnx, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from '../graph/proto.js';
import { TIES_TO_FIRST } from '../grad/rules.js';

/** Unary elementwise ops (extra inputs, if any, must be constants): f(Transpose(x)) = Transpose(f(x)). */
const UNARY = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Exp', 'Log', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Softplus', 'Softsign', 'Erf', 'HardSigmoid', 'Gelu', 'Clip', 'Cast']);
/** Broadcasting elementwise ops: f(Transpose(a), Transpose(b)) = Transpose(f(a, b)) for one perm. */
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'Pow', 'PRelu', 'Equal', 'Greater', 'Less', 'Where']);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp']);

/** What `simplifyForGradients` changed (for tests and the engine benchmark). */
export interface SimplifyStats {
  readonly transposesBefore: number;
  readonly transposesAfter: number;
  readonly reluPoolSwaps: number;
  readonly batchNormsFolded: number;
  readonly poolsInPhaseForm: number;
}

/** A rewritten copy of `model` (see the file header); the original is not modified. */
export function simplifyForGradients(model: ModelProto): { model: ModelProto; stats: SimplifyStats } {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  // control flow (If, Loop, Scan) reads outer tensors by name from its bodies: leave such graphs alone
  const subgraphs = graphOf(copy).node.some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0));
  if (subgraphs) return { model: copy, stats: { transposesBefore: 0, transposesAfter: 0, reluPoolSwaps: 0, batchNormsFolded: 0, poolsInPhaseForm: 0 } };
  const r = new Rewriter(copy);
  const transposesBefore = r.count('Transpose');
  r.run();
  const g = graphOf(copy);
  g.node.splice(0, g.node.length, ...r.nodes.map((n) => onnx.NodeProto.fromObject(n as Record<string, unknown>)));
  r.dropUnusedInitializers();
  return { model: copy, stats: { transposesBefore, transposesAfter: r.count('Transpose'), reluPoolSwaps: r.swaps, batchNormsFolded: r.folds, poolsInPhaseForm: r.phased } };
}

type Rewrite = (n: NodeProto, i: number) => boolean;

class Rewriter {
  nodes: NodeProto[];
  swaps = 0;
  folds = 0;
  phased = 0;
  private readonly graphOutputs: Set<string>;
  private readonly initializers: Map<string, TensorProto>;
  private readonly names = new Set<string>();
  private producer = new Map<string, NodeProto>();
  private uses = new Map<string, number>();
  private readonly fresh = freshNames('attrib_simplify', this.names);

  constructor(private readonly model: ModelProto) {
    const g = graphOf(model);
    this.nodes = g.node.map((n) => ({ ...n, input: [...(n.input ?? [])], output: [...(n.output ?? [])], attribute: [...(n.attribute ?? [])] }));
    this.graphOutputs = new Set(g.output.map((o) => o.name ?? ''));
    this.initializers = new Map(g.initializer.map((t) => [t.name ?? '', t]));
    for (const n of this.nodes) for (const t of [...(n.input ?? []), ...(n.output ?? [])]) this.names.add(t);
    for (const t of this.initializers.keys()) this.names.add(t);
  }

  count(op: string): number {
    return this.nodes.filter((n) => n.opType === op && !n.domain).length;
  }

  run(): void {
    const rewrites: Rewrite[] = [this.identityPerm, this.dropIdentity, this.composeTransposes, this.sinkUnary, this.sinkElementwise, this.sinkReduce, this.sinkConcat, this.swapReluPool, this.foldBatchNorm, this.phasePool];
    // every rewrite removes a transpose, moves one towards the outputs, or removes a node: bounded
    for (let round = 0; round < 20 * this.nodes.length + 100; round++) {
      this.removeDead();
      this.index();
      const hit = this.nodes.some((n, i) => !n.domain && rewrites.some((rw) => rw.call(this, n, i)));
      if (!hit) return;
    }
  }

  dropUnusedInitializers(): void {
    const g = graphOf(this.model);
    const used = new Set<string>(g.output.map((o) => o.name ?? ''));
    for (const n of this.nodes) for (const t of n.input ?? []) used.add(t);
    const declared = new Set(g.input.map((i) => i.name ?? ''));
    const keep = g.initializer.filter((t) => used.has(t.name ?? '') || declared.has(t.name ?? ''));
    g.initializer.splice(0, g.initializer.length, ...keep);
  }

  private removeDead(): void {
    const live = new Set(this.graphOutputs);
    const keep: NodeProto[] = [];
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const n = this.nodes[k]!;
      if (!(n.output ?? []).some((o) => o && live.has(o))) continue;
      keep.push(n);
      for (const t of n.input ?? []) live.add(t);
    }
    this.nodes = keep.reverse();
  }

  private index(): void {
    this.producer = new Map();
    this.uses = new Map();
    for (const n of this.nodes) {
      for (const o of n.output ?? []) if (o) this.producer.set(o, n);
      for (const t of n.input ?? []) if (t) this.uses.set(t, (this.uses.get(t) ?? 0) + 1);
    }
    for (const o of this.graphOutputs) this.uses.set(o, (this.uses.get(o) ?? 0) + 1);
  }

  /** The Transpose producing `t` when `t` is read only by `reader` (`times` times) and is no graph output. */
  private privateTranspose(t: string, times = 1): { x: string; perm: number[] } | undefined {
    const p = this.producer.get(t);
    if (!p || p.opType !== 'Transpose' || p.domain || this.uses.get(t) !== times) return undefined;
    const x = p.input![0]!;
    return { x, perm: attrInts(p, 'perm', []) };
  }

  private replace(i: number, ...replacement: NodeProto[]): true {
    this.nodes.splice(i, 1, ...replacement);
    return true;
  }

  private transpose(x: string, perm: readonly number[], out: string): NodeProto {
    return node('Transpose', [x], [out], [intsAttr('perm', perm)]);
  }

  private identityPerm(n: NodeProto, i: number): boolean {
    if (n.opType !== 'Transpose') return false;
    const perm = attrInts(n, 'perm', []);
    if (perm.length === 0 || perm.some((p, k) => p !== k)) return false;
    return this.replace(i, node('Identity', [n.input![0]!], [n.output![0]!]));
  }

  /** Identity whose output is no graph output: its readers read its input. */
  private dropIdentity(n: NodeProto, i: number): boolean {
    if (n.opType !== 'Identity' || this.graphOutputs.has(n.output![0]!)) return false;
    const [x, y] = [n.input![0]!, n.output![0]!];
    for (const m of this.nodes) if (m.input) m.input = m.input.map((t) => (t === y ? x : t));
    this.nodes.splice(i, 1);
    return true;
  }

  private composeTransposes(n: NodeProto, i: number): boolean {
    if (n.opType !== 'Transpose') return false;
    const inner = this.producer.get(n.input![0]!);
    if (!inner || inner.opType !== 'Transpose' || inner.domain) return false;
    const p = attrInts(inner, 'perm', []);
    const q = attrInts(n, 'perm', []);
    if (p.length === 0 || p.length !== q.length) return false;
    const perm = q.map((k) => p[k]!);
    return this.replace(i, this.transpose(inner.input![0]!, perm, n.output![0]!));
  }

  private sinkUnary(n: NodeProto, i: number): boolean {
    if (!UNARY.has(n.opType ?? '') || (n.output ?? []).length !== 1) return false;
    const t = this.privateTranspose(n.input![0]!);
    if (!t || !(n.input ?? []).slice(1).every((c) => !c || this.initializers.has(c))) return false;
    const y = n.output![0]!;
    const inner = this.fresh(n.opType!.toLowerCase());
    return this.replace(i, { ...n, input: [t.x, ...n.input!.slice(1)], output: [inner], name: inner }, this.transpose(inner, t.perm, y));
  }

  private sinkElementwise(n: NodeProto, i: number): boolean {
    if (!ELEMENTWISE.has(n.opType ?? '') || (n.output ?? []).length !== 1) return false;
    const inputs = n.input ?? [];
    let perm: number[] | undefined;
    for (const t of inputs) {
      const tr = this.privateTranspose(t, inputs.filter((u) => u === t).length);
      if (!tr) continue;
      if (perm && (perm.length !== tr.perm.length || perm.some((p, k) => p !== tr.perm[k]))) return false;
      perm = tr.perm;
    }
    if (!perm || perm.length === 0) return false;
    const rank = perm.length;
    const newInputs: string[] = [];
    const added: TensorProto[] = [];
    for (const t of inputs) {
      const tr = this.privateTranspose(t, inputs.filter((u) => u === t).length);
      if (tr) {
        newInputs.push(tr.x);
        continue;
      }
      const c = this.initializers.get(t);
      const moved = c && transposedConstant(c, perm, rank, this.fresh('const'));
      if (!moved) return false; // a runtime operand in the other layout
      if (moved === c) newInputs.push(t);
      else newInputs.push(moved.name!), added.push(moved);
    }
    for (const c of added) this.addInitializer(c);
    const inner = this.fresh(n.opType!.toLowerCase());
    return this.replace(i, { ...n, input: newInputs, output: [inner], name: inner }, this.transpose(inner, perm, n.output![0]!));
  }

  private sinkReduce(n: NodeProto, i: number): boolean {
    if (!REDUCE.has(n.opType ?? '')) return false;
    const t = this.privateTranspose(n.input![0]!);
    if (!t) return false;
    const rank = t.perm.length;
    const axesInput = n.input![1];
    let axes = attrInts(n, 'axes', []);
    if (axesInput) {
      const known = int64Values(this.initializers.get(axesInput));
      if (!known) return false;
      axes = known;
    }
    if (axes.length === 0) {
      if (attrInt(n, 'noop_with_empty_axes', 0) === 1) return false;
      axes = t.perm.map((_, k) => k);
    }
    axes = axes.map((a) => (a < 0 ? a + rank : a));
    const moved = axes.map((a) => t.perm[a]!).sort((a, b) => a - b);
    const keepDims = attrInt(n, 'keepdims', 1) === 1;
    const inner = this.fresh(n.opType!.toLowerCase());
    const y = n.output![0]!;
    let reduce: NodeProto;
    if (axesInput) {
      const axesName = this.fresh('axes');
      this.addInitializer(int64Const(axesName, moved));
      reduce = { ...n, input: [t.x, axesName], output: [inner], name: inner };
    } else {
      reduce = { ...n, input: [t.x], output: [inner], name: inner, attribute: [...(n.attribute ?? []).filter((a) => a.name !== 'axes'), intsAttr('axes', moved)] };
    }
    // keepdims: the same perm; otherwise the kept axes of x, listed in the original output's order,
    // come out of the new reduction in ascending order
    const kept = t.perm.filter((_, k) => !axes.includes(k));
    const ascending = [...kept].sort((a, b) => a - b);
    const outPerm = keepDims ? t.perm : kept.map((a) => ascending.indexOf(a));
    const after = outPerm.every((p, k) => p === k) ? node('Identity', [inner], [y]) : this.transpose(inner, outPerm, y);
    return this.replace(i, reduce, after);
  }

  private sinkConcat(n: NodeProto, i: number): boolean {
    if (n.opType !== 'Concat') return false;
    const inputs = n.input ?? [];
    const trs = inputs.map((t) => this.privateTranspose(t, inputs.filter((u) => u === t).length));
    const perm = trs[0]?.perm;
    if (!perm || trs.some((tr) => !tr || tr.perm.length !== perm.length || tr.perm.some((p, k) => p !== perm[k]))) return false;
    const axis = attrInt(n, 'axis', 0);
    const inner = this.fresh('concat');
    const concat: NodeProto = { ...n, input: trs.map((tr) => tr!.x), output: [inner], name: inner, attribute: [...(n.attribute ?? []).filter((a) => a.name !== 'axis'), { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: perm[axis < 0 ? axis + perm.length : axis]! } as AttributeProto] };
    return this.replace(i, concat, this.transpose(inner, perm, n.output![0]!));
  }

  /** MaxPool(Relu(x)) → Relu(MaxPool(x)) when the Relu output is read only by the pool. */
  private swapReluPool(n: NodeProto, i: number): boolean {
    if (n.opType !== 'MaxPool' || (n.output ?? []).filter((o) => o).length !== 1) return false;
    const r = this.producer.get(n.input![0]!);
    if (!r || r.opType !== 'Relu' || r.domain || this.uses.get(n.input![0]!) !== 1) return false;
    const pooled = this.fresh('maxpool');
    this.swaps++;
    return this.replace(i, { ...n, input: [r.input![0]!], output: [pooled], name: pooled }, node('Relu', [pooled], [n.output![0]!]));
  }

  /** BatchNormalization(Conv(x, W, b)) → Conv(x, W·s, (b − mean)·s + β), s = γ / √(var + ε). */
  private foldBatchNorm(n: NodeProto, i: number): boolean {
    if (n.opType !== 'BatchNormalization' || (n.output ?? []).filter((o) => o).length !== 1 || attrInt(n, 'training_mode', 0) !== 0) return false;
    const conv = this.producer.get(n.input![0]!);
    if (!conv || conv.opType !== 'Conv' || conv.domain || this.uses.get(n.input![0]!) !== 1) return false;
    const [gamma, beta, mean, variance] = n.input!.slice(1, 5).map((t) => floatValues(this.initializers.get(t)));
    const wT = this.initializers.get(conv.input![1]!);
    const w = floatValues(wT);
    const b = conv.input![2] ? floatValues(this.initializers.get(conv.input![2])) : undefined;
    if (!gamma || !beta || !mean || !variance || !w || !wT || (conv.input![2] && !b)) return false;
    const out = gamma.length;
    if (Number(wT.dims?.[0]) !== out || w.length % out !== 0) return false;
    const epsilon = attr(n, 'epsilon');
    const eps = typeof epsilon === 'number' ? epsilon : 1e-5;
    const per = w.length / out;
    const s = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c]! + eps));
    const w2 = Float32Array.from(w, (v, k) => v * s[Math.floor(k / per)]!);
    const b2 = s.map((sc, c) => ((b?.[c] ?? 0) - mean[c]!) * sc + beta[c]!);
    const wName = this.fresh('folded_w');
    const bName = this.fresh('folded_b');
    this.addInitializer(floatTensor(wName, (wT.dims ?? []).map(Number), w2));
    this.addInitializer(floatTensor(bName, [out], b2));
    this.folds++;
    return this.replace(i, { ...conv, input: [conv.input![0]!, wName, bName], output: [n.output![0]!], name: n.output![0]! });
  }

  /**
   * MaxPool(Conv(x, W, b)) with 2×2 windows at stride 2 and a stride-1 convolution whose input
   * channels are not a multiple of 8 → Max(Split(Conv(x, W′, b′))). W′ stacks four
   * copies of the k×k kernel, each shifted by its window position (i, j) inside a (k+1)×(k+1) kernel
   * at stride 2, so block (i, j) of the output holds the convolution at (2a+i, 2b+j): the values
   * MaxPool compared. With 8k input channels the stride-1 convolution's backward already runs as a
   * fast blocked Conv and this form measured no faster.
   */
  private phasePool(n: NodeProto, i: number): boolean {
    if (n.opType !== 'MaxPool' || (n.output ?? []).filter((o) => o).length !== 1) return false;
    const ones = (v: number[]) => v.every((x) => x === 1);
    const zeros = (v: number[]) => v.every((x) => x === 0);
    const [k, s] = [attrInts(n, 'kernel_shape', []), attrInts(n, 'strides', [])];
    if (k.length !== 2 || k.some((v) => v !== 2) || s.length !== 2 || s.some((v) => v !== 2)) return false;
    if (!zeros(attrInts(n, 'pads', [])) || attrInt(n, 'ceil_mode', 0) !== 0 || attrInt(n, 'storage_order', 0) !== 0 || !ones(attrInts(n, 'dilations', [])) || !noAutoPad(n)) return false;
    const conv = this.producer.get(n.input![0]!);
    if (!conv || conv.opType !== 'Conv' || conv.domain || this.uses.get(n.input![0]!) !== 1) return false;
    if (attrInt(conv, 'group', 1) !== 1 || !ones(attrInts(conv, 'strides', [])) || !ones(attrInts(conv, 'dilations', [])) || !noAutoPad(conv)) return false;
    const wT = this.initializers.get(conv.input![1]!);
    const w = floatValues(wT);
    const dims = (wT?.dims ?? []).map(Number);
    const biasName = conv.input![2];
    const b = biasName ? floatValues(this.initializers.get(biasName)) : undefined;
    if (!w || dims.length !== 4 || (biasName && !b)) return false;
    const [out, cin, kh, kw] = dims as [number, number, number, number];
    if (cin % 8 === 0 || attrInts(conv, 'kernel_shape', [kh, kw]).some((v, a) => v !== dims[2 + a])) return false;
    const phase = new Float32Array(4 * out * cin * (kh + 1) * (kw + 1));
    for (let p = 0; p < 4; p++)
      for (let o = 0; o < out; o++)
        for (let c = 0; c < cin; c++)
          for (let u = 0; u < kh; u++)
            for (let v = 0; v < kw; v++) {
              const [pi, pj] = [p >> 1, p & 1];
              phase[(((p * out + o) * cin + c) * (kh + 1) + u + pi) * (kw + 1) + v + pj] = w[((o * cin + c) * kh + u) * kw + v]!;
            }
    const wName = this.fresh('phase_w');
    this.addInitializer(floatTensor(wName, [4 * out, cin, kh + 1, kw + 1], phase));
    const inputs = [conv.input![0]!, wName];
    if (b) {
      const bName = this.fresh('phase_b');
      this.addInitializer(floatTensor(bName, [4 * out], Array.from({ length: 4 * out }, (_, q) => b[q % out]!)));
      inputs.push(bName);
    }
    const splitName = this.fresh('phase_split');
    this.addInitializer(int64Const(splitName, [out, out, out, out]));
    const y = this.fresh('phase_conv');
    const blocks = [0, 1, 2, 3].map(() => this.fresh('phase_block'));
    const pads = attrInts(conv, 'pads', [0, 0, 0, 0]);
    this.phased++;
    return this.replace(
      i,
      node('Conv', inputs, [y], [intsAttr('kernel_shape', [kh + 1, kw + 1]), intsAttr('strides', [2, 2]), intsAttr('pads', pads)]),
      node('Split', [y, splitName], blocks, [intAttr('axis', 1)]),
      { ...node('Max', blocks, [n.output![0]!]), docString: TIES_TO_FIRST },
    );
  }

  private addInitializer(t: TensorProto): void {
    const proto = onnx.TensorProto.fromObject(t as Record<string, unknown>);
    graphOf(this.model).initializer.push(proto);
    this.initializers.set(t.name!, proto);
  }
}

const noAutoPad = (n: NodeProto): boolean => ['', 'NOTSET'].includes(String(attr(n, 'auto_pad') ?? ''));

const int64Const = (name: string, values: readonly number[]): TensorProto => ({
  name,
  dims: [values.length],
  dataType: onnx.TensorProto.DataType.INT64,
  rawData: new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer),
});

/**
 * The constant operand of an elementwise op whose other operands lose a Transpose(perm): itself
 * when it holds one value, else a new float constant c′ with Transpose(c′, perm) = c (broadcast to
 * the op's rank first). Undefined when the constant cannot be moved (other types, higher rank).
 */
function transposedConstant(c: TensorProto, perm: readonly number[], rank: number, name: string): TensorProto | undefined {
  const dims = (c.dims ?? []).map(Number);
  if (dims.reduce((a, b) => a * b, 1) <= 1) return c;
  const values = floatValues(c);
  if (!values || dims.length > rank) return undefined;
  const padded = [...new Array(rank - dims.length).fill(1), ...dims];
  const inverse = perm.map((_, k) => perm.indexOf(k));
  return floatTensor(name, inverse.map((k) => padded[k]!), permute(values, padded, inverse));
}
