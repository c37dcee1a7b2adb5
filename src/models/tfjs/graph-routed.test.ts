// attrib's kernels for graph ops whose TF.js gradient is missing or wrong: StridedSlice's scatter
// gradient is the adjoint of the slice, and the depthwise convolution as a dense one gives TF.js's values.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../../test/backend.js';
import { Rng } from '../../core/random.js';
import { routedKernel } from './graph-routed.js';

beforeAll(() => useBackend('wasm'));
const rng = new Rng(2);
const randn = (shape: number[]) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
const node = (op: string, attrs: Record<string, unknown>) => ({ name: 'n', op, inputs: [], attrParams: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { value: v }])) });

it.each([
  ['masks + negative stride', [2, 4, 5, 5], [0, 0, 4, 1], [0, 3, 0, 5], [1, 1, -1, 2], { beginMask: 1, endMask: 9 }],
  ['ellipsis + range', [2, 3, 4, 2], [0, 1], [0, 3], [1, 1], { ellipsisMask: 1 }],
  ['shrink', [2, 3, 4, 1], [0, 2, 0], [0, 3, 0], [1, 1, 1], { beginMask: 1, endMask: 5, shrinkAxisMask: 2 }],
  ['new axis', [2, 4, 1], [0, 0], [0, 0], [1, 1], { ellipsisMask: 1, newAxisMask: 2 }],
  ['negative begin, clamped end', [2, 7], [0, -5], [0, 100], [1, 2], { beginMask: 1, endMask: 1 }],
] as const)('StridedSlice (%s): forward as TF.js, gradient the adjoint ⟨∇, x⟩ = ⟨c, S x⟩', (_, shape, b, e, s, masks) => {
  const before = tf.memory().numTensors;
  const n = node('StridedSlice', masks);
  const [x, begin, end, strides] = [randn([...shape]), tf.tensor1d([...b], 'int32'), tf.tensor1d([...e], 'int32'), tf.tensor1d([...s], 'int32')];
  const m = (k: string) => Number((masks as Record<string, number>)[k] ?? 0);
  const ref = tf.stridedSlice(x, [...b], [...e], [...s], m('beginMask'), m('endMask'), m('ellipsisMask'), m('newAxisMask'), m('shrinkAxisMask'));
  const y = routedKernel(n, [x, begin, end, strides]);
  expect(y.shape).toEqual(ref.shape);
  expect(Array.from(y.dataSync())).toEqual(Array.from(ref.dataSync()));
  const c = randn(y.shape);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(routedKernel(n, [v, begin, end, strides]), c)))(x);
  const [lhs, rhs] = tf.tidy(() => [tf.sum(tf.mul(g, x)).dataSync()[0]!, tf.sum(tf.mul(c, y)).dataSync()[0]!]);
  expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(rhs)));
  // every gradient entry is a c entry or zero (each x element is picked at most once)
  const cs = new Set(Array.from(c.dataSync()));
  expect(Array.from(g.dataSync()).every((v) => v === 0 || cs.has(v))).toBe(true);
  tf.dispose([x, begin, end, strides, ref, y, c, g]);
  expect(tf.memory().numTensors).toBe(before);
});

it('depthwise convolution as a dense block-diagonal one: the values of TF.js depthwiseConv2d; its input gradient runs on wasm', () => {
  const x = randn([2, 6, 6, 3]);
  const w = randn([3, 3, 3, 2]);
  const b = randn([6]);
  const n = node('FusedDepthwiseConv2dNative', { strides: [1, 1, 1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1, 1, 1], fusedOps: ['biasadd', 'relu6'] });
  const ref = tf.tidy(() => tf.relu6(tf.add(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), b)));
  const y = routedKernel(n, [x, w, b]);
  expect(Math.max(...Array.from(tf.abs(tf.sub(y, ref)).dataSync()))).toBeLessThan(1e-5);
  const g = tf.grad((v: tf.Tensor) => tf.sum(routedKernel(n, [v, w, b])))(x);
  expect(g.shape).toEqual(x.shape);
  tf.dispose([x, w, b, ref, y, g]);
});
