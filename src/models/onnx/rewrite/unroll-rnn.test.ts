// Unrolled LSTM/GRU/RNN nodes give ONNX Runtime's own outputs (every output, both directions,
// peepholes, GRU's two reset forms), and their gradients match finite differences.
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../../test/backend.js';
import { checkVjp, expectSameOrtOutputs } from '../../../../test/vjp-check.js';
import { Rng } from '../../../core/random.js';
import { floatTensor, intAttr, intsAttr, makeModel, node } from '../graph/build.js';
import { graphOf, onnx, type ModelProto } from '../graph/proto.js';
import { RECURRENT_OPS, unrollBlocker, unrollRecurrent } from './unroll-rnn.js';

beforeAll(() => useBackend('wasm'));

const rng = new Rng(13);
const randn = (n: number, scale = 0.5) => Array.from({ length: n }, () => rng.normal() * scale);
const str = (name: string, value: string) => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) });

const [T, B, I, H] = [4, 2, 3, 5];

/** One recurrent node on x [T, B, I] (its outputs Y, Y_h[, Y_c] flattened and joined as y). */
function recurrent(kind: 'LSTM' | 'GRU' | 'RNN', direction: string, extra: { initial?: boolean; peepholes?: boolean; lbr?: number } = {}): ModelProto {
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const gates = kind === 'LSTM' ? 4 : kind === 'GRU' ? 3 : 1;
  const inits = [floatTensor('W', [dirs, gates * H, I], randn(dirs * gates * H * I)), floatTensor('R', [dirs, gates * H, H], randn(dirs * gates * H * H)), floatTensor('Bias', [dirs, 2 * gates * H], randn(dirs * 2 * gates * H))];
  const inputs = ['x', 'W', 'R', 'Bias', ''];
  if (extra.initial) {
    inits.push(floatTensor('h0', [dirs, B, H], randn(dirs * B * H)));
    inputs.push('h0');
    if (kind === 'LSTM') inits.push(floatTensor('c0', [dirs, B, H], randn(dirs * B * H))), inputs.push('c0');
  } else if (kind === 'LSTM' && extra.peepholes) inputs.push('', '');
  if (extra.peepholes) inits.push(floatTensor('P', [dirs, 3 * H], randn(dirs * 3 * H))), inputs.push('P');
  const outs = kind === 'LSTM' ? ['Y', 'Yh', 'Yc'] : ['Y', 'Yh'];
  const attrs = [intAttr('hidden_size', H), str('direction', direction), ...(extra.lbr !== undefined ? [intAttr('linear_before_reset', extra.lbr)] : [])];
  return makeModel({
    nodes: [node(kind, inputs, outs, attrs), ...outs.map((o) => node('Reshape', [o, 'flat'], [`${o}_f`])), node('Concat', outs.map((o) => `${o}_f`), ['y'], [intAttr('axis', 0)])],
    inputs: [{ name: 'x', shape: [T, B, I] }],
    outputs: [{ name: 'y', shape: ['k'] }],
    initializers: [...inits, { name: 'flat', dims: [1], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(new BigInt64Array([-1n]).buffer) }],
  });
}

const CASES: [string, ModelProto][] = [
  ['LSTM forward, no initial state', recurrent('LSTM', 'forward')],
  ['LSTM bidirectional, initial state and peepholes', recurrent('LSTM', 'bidirectional', { initial: true, peepholes: true })],
  ['GRU reverse, linear_before_reset 0', recurrent('GRU', 'reverse', { initial: true, lbr: 0 })],
  ['GRU bidirectional, linear_before_reset 1 (PyTorch)', recurrent('GRU', 'bidirectional', { lbr: 1 })],
  ['RNN forward with initial state', recurrent('RNN', 'forward', { initial: true })],
];

describe('recurrent nodes unrolled', () => {
  it.each(CASES)('%s: the same outputs as ONNX Runtime', async (_, m) => {
    const unrolled = unrollRecurrent(m, new Map([['x', [T, B, I]]]));
    expect(graphOf(unrolled).node.some((n) => RECURRENT_OPS.has(n.opType ?? ''))).toBe(false);
    await expectSameOrtOutputs(m, unrolled, randn(T * B * I, 1), [T, B, I], 1e-5);
  });

  it('gradients through time (bidirectional LSTM with peepholes, GRU) against finite differences, batch first', async () => {
    // x [n, T, I] → [T, n, I] → recurrent node → Y [T, D, n, H] and Y_h [D, n, H] back to batch first
    for (const [m, dirs] of [[CASES[1]![1], 2], [CASES[2]![1], 1]] as const) {
      const g = graphOf(m);
      const rnn = g.node[0]!;
      const batchFirst = makeModel({
        nodes: [
          node('Transpose', ['xb'], ['x'], [intsAttr('perm', [1, 0, 2])]),
          { ...rnn, input: [...rnn.input!.slice(0, 5)], output: [...rnn.output!] }, // no initial state: it would fix the batch
          node('Transpose', ['Y'], ['Yb'], [intsAttr('perm', [2, 0, 1, 3])]),
          node('Transpose', ['Yh'], ['Yhb'], [intsAttr('perm', [1, 0, 2])]),
          node('Flatten', ['Yb'], ['f1']),
          node('Flatten', ['Yhb'], ['f2']),
          node('Concat', ['f1', 'f2'], ['y'], [intAttr('axis', 1)]),
        ],
        inputs: [{ name: 'xb', shape: ['n', T, I] }],
        outputs: [{ name: 'y', shape: ['n', (T + 1) * dirs * H] }],
        initializers: g.initializer.filter((t) => ['W', 'R', 'Bias', 'P'].includes(t.name ?? '')),
      });
      if (rnn.input!.length > 7) graphOf(batchFirst).node[1]!.input!.push('', '', 'P');
      await checkVjp((n) => randn(n, 1), batchFirst, [B, T, I], [B, (T + 1) * dirs * H], { tol: 3e-3 });
    }
  });

  it('refuses what it does not unroll, naming the reason', () => {
    const clip = recurrent('LSTM', 'forward');
    graphOf(clip).node[0]!.attribute!.push({ name: 'clip', type: onnx.AttributeProto.AttributeType.FLOAT, f: 3 });
    expect(unrollBlocker(graphOf(clip).node[0]!)).toBe('cell clipping');
    expect(() => unrollRecurrent(clip, new Map([['x', [T, B, I]]]))).toThrowError(expect.objectContaining({ code: 'capability_missing', message: expect.stringMatching(/'LSTM'.*cell clipping/) }));
    const acts = recurrent('RNN', 'forward');
    graphOf(acts).node[0]!.attribute!.push({ name: 'activations', type: onnx.AttributeProto.AttributeType.STRINGS, strings: [new TextEncoder().encode('Relu')] });
    expect(unrollBlocker(graphOf(acts).node[0]!)).toMatch(/activations \[Relu\]/);
  });
});
