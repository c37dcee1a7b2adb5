// VJP rules added for real exports (hard activations, Resize, Einsum, scatters and gathers by
// index tensors) against central finite differences, on one-op graphs.
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { checkVjp as checkVjpWith } from '../../../../test/vjp-check.js';
import { Rng } from '../../../core/random.js';
import { floatAttr, floatTensor, int64Tensor, intAttr, intsAttr, makeModel, node } from '../graph/build.js';
import { onnx } from '../graph/proto.js';
import { parseEinsum } from './rules/tensor.js';
import { resizeMatrix } from './rules/resize.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(23);
const randn = (n: number, scale = 1) => Array.from({ length: n }, () => rng.normal() * scale);
const checkVjp = (model: ReturnType<typeof makeModel>, inputShape: number[], outShape: number[], opts: { x?: number[]; tol?: number } = {}) => checkVjpWith(randn, model, inputShape, outShape, opts);
const str = (name: string, value: string) => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) });
const io = (inShape: (number | string)[], outShape: (number | string)[]) => ({ inputs: [{ name: 'x', shape: inShape }], outputs: [{ name: 'y', shape: outShape }] });

describe('hard activations', () => {
  it('HardSigmoid (α, β) and HardSwish, on both flat parts and the slope', async () => {
    const m = makeModel({
      nodes: [node('HardSigmoid', ['x'], ['a'], [floatAttr('alpha', 0.25), floatAttr('beta', 0.4)]), node('HardSwish', ['x'], ['b']), node('Concat', ['a', 'b'], ['y'], [intAttr('axis', 1)])],
      ...io(['n', 6], ['n', 12]),
      opset: 14,
    });
    // away from the kinks (±3 for HardSwish, −1.6 and 2.4 for this HardSigmoid) by more than ε
    await checkVjp(m, [2, 6], [2, 12], { x: [-4.2, -2.5, -1, 0.3, 1.9, 3.6, -3.5, -1.3, 0.05, 2.1, 2.7, 5] });
  });
});

describe('Resize', () => {
  it('interpolation matrices: rows sum to 1, nearest picks one source, half_pixel ×2 linear weights ¼ ¾', () => {
    const lin = resizeMatrix('linear', 'half_pixel', '', 2, 3, 6);
    for (let i = 0; i < 6; i++) expect(lin.slice(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(lin.slice(3, 6)).toEqual([0.75, 0.25, 0]); // output 1 sits at 0.25
    const near = resizeMatrix('nearest', 'asymmetric', 'floor', 2, 3, 6);
    expect(near.filter((v) => v === 1).length).toBe(6);
  });

  const cases: [string, string, string, number[], number[]][] = [
    ['nearest', 'asymmetric', 'floor', [1, 2, 3, 4], [1, 2, 6, 8]],
    ['nearest', 'half_pixel', 'round_prefer_floor', [1, 2, 3, 4], [1, 2, 5, 7]],
    ['nearest', 'tf_half_pixel_for_nn', 'round_prefer_ceil', [1, 2, 3, 4], [1, 2, 7, 6]],
    ['nearest', 'align_corners', 'round_prefer_floor', [1, 2, 5, 6], [1, 2, 3, 4]],
    ['linear', 'half_pixel', '', [1, 2, 3, 4], [1, 2, 6, 8]],
    ['linear', 'pytorch_half_pixel', '', [1, 2, 3, 4], [1, 2, 5, 7]],
    ['linear', 'align_corners', '', [1, 2, 3, 4], [1, 2, 7, 5]],
    ['linear', 'asymmetric', '', [1, 2, 6, 5], [1, 2, 3, 8]],
  ];
  it.each(cases)('%s, %s %s: %j → %j (by sizes)', async (mode, coord, rounding, inShape, outShape) => {
    const attrs = [str('mode', mode), str('coordinate_transformation_mode', coord), ...(rounding ? [str('nearest_mode', rounding)] : [])];
    const m = makeModel({ nodes: [node('Resize', ['x', '', '', 'sizes'], ['y'], attrs)], ...io(['n', ...inShape.slice(1)], ['n', ...outShape.slice(1)]), initializers: [int64Tensor('sizes', [4], outShape)] });
    await checkVjp(m, inShape, outShape);
  });

  it('by scales (×2 bilinear, the UNet decoder pattern), and batch of two', async () => {
    const m = makeModel({
      nodes: [node('Resize', ['x', '', 'scales'], ['y'], [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')])],
      ...io(['n', 1, 3, 3], ['n', 1, 6, 6]),
      initializers: [floatTensor('scales', [4], [1, 1, 2, 2])],
    });
    await checkVjp(m, [2, 1, 3, 3], [2, 1, 6, 6]);
  });
});

describe('Einsum', () => {
  it('parses explicit and implicit equations with ellipses', () => {
    expect(parseEinsum('bij, bjk -> bik')).toEqual({ inputs: [['b', 'i', 'j'], ['b', 'j', 'k']], output: ['b', 'i', 'k'] });
    expect(parseEinsum('...ij,jk')).toEqual({ inputs: [['...', 'i', 'j'], ['j', 'k']], output: ['...', 'i', 'k'] });
    expect(parseEinsum('ij->j->i')).toBeUndefined();
    expect(parseEinsum('i1,ij')).toBeUndefined();
  });

  it('batched matmul, attention scores with both operands on the path, a label summed out, ellipsis with a constant, a transpose', async () => {
    const m = makeModel({
      nodes: [
        node('Einsum', ['x', 'w'], ['a'], [str('equation', 'bij,jk->bik')]), // [n, 3, 2]
        node('Einsum', ['x', 'x'], ['s'], [str('equation', 'bid,bjd->bij')]), // [n, 3, 3]
        node('Einsum', ['x'], ['t'], [str('equation', 'bij->bj')]), // [n, 4]
        node('Einsum', ['x', 'w'], ['e'], [str('equation', '...j,jk')]), // implicit: [n, 3, 2]
        node('Einsum', ['x'], ['tr'], [str('equation', 'bij->bji')]), // [n, 4, 3]
        node('Flatten', ['a'], ['fa']),
        node('Flatten', ['s'], ['fs']),
        node('Flatten', ['e'], ['fe']),
        node('Flatten', ['tr'], ['ft']),
        node('Concat', ['fa', 'fs', 't', 'fe', 'ft'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 3, 4], ['n', 6 + 9 + 4 + 6 + 12]),
      initializers: [floatTensor('w', [4, 2], randn(8))],
      opset: 13,
    });
    await checkVjp(m, [2, 3, 4], [2, 37]);
  });
});

describe('scatters and gathers by index tensors', () => {
  it('ScatterND (data and updates on the path), GatherND, GatherElements with a repeated index', async () => {
    const m = makeModel({
      nodes: [
        node('Mul', ['x', 'two'], ['u0']),
        node('GatherND', ['u0', 'gi'], ['upd']), // rows x[:, 1] and x[:, 0]·2 → [n, 2, 4]? (batch_dims 0: indices over [n, 3, 4])
        node('ScatterND', ['x', 'si', 'upd'], ['sc']),
        node('GatherElements', ['x', 'ge'], ['g'], [intAttr('axis', 2)]),
        node('Flatten', ['sc'], ['f1']),
        node('Flatten', ['g'], ['f2']),
        node('Concat', ['f1', 'f2'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io([1, 3, 4], [1, 12 + 6]),
      initializers: [
        floatTensor('two', [], [2]),
        int64Tensor('gi', [2, 2], [0, 1, 0, 0]), // u0[0, 1] and u0[0, 0]: [2, 4]
        int64Tensor('si', [2, 2], [0, 2, 0, 0]), // written to x[0, 2] and x[0, 0]
        int64Tensor('ge', [1, 3, 2], [0, 3, 1, 1, 2, 0]), // a repeated index in row 1
      ],
    });
    await checkVjp(m, [1, 3, 4], [1, 18]);
  });
});

describe('less common ops of real exports', () => {
  it('PRelu (per-channel slope), Abs, Selu, Softsign, Mish, Sin, Cos, Mean, Floor (zero gradient)', async () => {
    const m = makeModel({
      nodes: [
        node('PRelu', ['x'], ['a'], []),
        node('Abs', ['x'], ['b']),
        node('Selu', ['x'], ['c']),
        node('Softsign', ['x'], ['d']),
        node('Mish', ['x'], ['e']),
        node('Sin', ['x'], ['f']),
        node('Cos', ['x'], ['g']),
        node('Mean', ['x', 'a', 'b'], ['h']),
        node('Floor', ['x'], ['fl']),
        node('Add', ['h', 'fl'], ['k']),
        node('Concat', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'k'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 2, 3], ['n', 16, 3]),
      initializers: [floatTensor('slope', [2, 1], [0.2, -0.3])],
      opset: 18,
    });
    m.graph!.node![0]!.input!.push('slope');
    await checkVjp(m, [2, 2, 3], [2, 16, 3], { x: [0.3, -1.2, 0.45, 1.7, -0.4, 0.9, -2.1, 0.6, 1.1, -0.7, 0.25, -1.5] });
  });

  it('InstanceNormalization, Tile, DepthToSpace, SpaceToDepth', async () => {
    const m = makeModel({
      nodes: [
        node('InstanceNormalization', ['x', 'sc', 'bi'], ['in'], [floatAttr('epsilon', 1e-4)]),
        node('Tile', ['in', 'reps'], ['t']), // [n, 4, 4, 6]
        node('DepthToSpace', ['t'], ['d2s'], [intAttr('blocksize', 2)]), // [n, 1, 8, 12]
        node('SpaceToDepth', ['x'], ['s2d'], [intAttr('blocksize', 2)]), // [n, 16, 1, 1]
        node('Flatten', ['d2s'], ['f1']),
        node('Flatten', ['s2d'], ['f2']),
        node('Concat', ['f1', 'f2'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 4, 2, 2], ['n', 96 + 16]),
      initializers: [floatTensor('sc', [4], [1.5, -0.5, 0.8, 1.2]), floatTensor('bi', [4], [0.1, 0.2, 0, -0.1]), int64Tensor('reps', [4], [1, 1, 2, 3])],
    });
    await checkVjp(m, [2, 4, 2, 2], [2, 112], { tol: 3e-3 });
  });

  it('ReduceMin (first minimum), ReduceSumSquare, ReduceL2, ReduceLogSumExp (axes as attributes, keepdims 0 and 1)', async () => {
    const m = makeModel({
      nodes: [
        node('ReduceMin', ['x'], ['a'], [intsAttr('axes', [2]), intAttr('keepdims', 0)]),
        node('ReduceSumSquare', ['x'], ['b'], [intsAttr('axes', [2]), intAttr('keepdims', 0)]),
        node('ReduceL2', ['x'], ['c'], [intsAttr('axes', [1, 2]), intAttr('keepdims', 1)]),
        node('ReduceLogSumExp', ['x'], ['d'], [intsAttr('axes', [1]), intAttr('keepdims', 0)]),
        node('Flatten', ['c'], ['cf']),
        node('Concat', ['a', 'b', 'cf', 'd'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 3, 4], ['n', 3 + 3 + 1 + 4]),
      opset: 13,
    });
    await checkVjp(m, [2, 3, 4], [2, 11]);
  });
});

describe('Pad modes', () => {
  it.each(['reflect', 'edge', 'wrap'])('%s padding (both sides, two axes) against finite differences', async (mode) => {
    const m = makeModel({
      nodes: [node('Pad', ['x', 'pads'], ['y'], [str('mode', mode)])],
      ...io(['n', 2, 3, 4], ['n', 2, 6, 7]),
      initializers: [int64Tensor('pads', [8], [0, 0, 2, 1, 0, 0, 1, 2])],
      opset: mode === 'wrap' ? 19 : 13,
    });
    await checkVjp(m, [2, 2, 3, 4], [2, 2, 6, 7]);
  });
});

describe('strided and reversed slices', () => {
  it('x[:, ::-1, 1::2] and the YOLO focus pattern x[..., ::2, ::2], x[..., 1::2, ::2] joined by Concat', async () => {
    const m = makeModel({
      nodes: [
        node('Slice', ['x', 'st0', 'en0', 'ax0', 'sp0'], ['a']), // [n, 2, 4, 2] from [n, 2, 4, 4]: axis 1 reversed, axis 3 from 1 by 2
        node('Slice', ['x', 'st1', 'en1', 'ax1', 'sp1'], ['b']), // [n, 2, 2, 2]
        node('Slice', ['x', 'st2', 'en2', 'ax1', 'sp1'], ['c']), // [n, 2, 2, 2]
        node('Concat', ['b', 'c'], ['bc'], [intAttr('axis', 1)]),
        node('Flatten', ['a'], ['fa']),
        node('Flatten', ['bc'], ['fb']),
        node('Concat', ['fa', 'fb'], ['y'], [intAttr('axis', 1)]),
      ],
      ...io(['n', 2, 4, 4], ['n', 16 + 16]),
      initializers: [
        int64Tensor('st0', [2], [-1, 1]), int64Tensor('en0', [2], [-(2 ** 40), 4]), int64Tensor('ax0', [2], [1, 3]), int64Tensor('sp0', [2], [-1, 2]),
        int64Tensor('st1', [2], [0, 0]), int64Tensor('en1', [2], [4, 4]), int64Tensor('ax1', [2], [2, 3]), int64Tensor('sp1', [2], [2, 2]),
        int64Tensor('st2', [2], [1, 0]), int64Tensor('en2', [2], [4, 4]),
      ],
    });
    await checkVjp(m, [2, 2, 4, 4], [2, 32]);
  });
});

describe('Conv with auto_pad (tf2onnx and Paddle exports)', () => {
  it.each([['SAME_UPPER', 2], ['SAME_LOWER', 2], ['SAME_UPPER', 1], ['VALID', 2]] as const)('%s, stride %i, an even input against an odd kernel', async (mode, stride) => {
    const out = mode === 'VALID' ? Math.floor((6 - 3) / stride) + 1 : Math.ceil(6 / stride);
    const m = makeModel({
      nodes: [node('Conv', ['x', 'w'], ['y'], [intsAttr('kernel_shape', [3, 3]), intsAttr('strides', [stride, stride]), str('auto_pad', mode)])],
      ...io(['n', 2, 6, 6], ['n', 3, out, out]),
      initializers: [floatTensor('w', [3, 2, 3, 3], randn(54, 0.5))],
    });
    await checkVjp(m, [1, 2, 6, 6], [1, 3, out, out]);
  });
});
