// TF's StridedSlice (begin/end/strides with begin, end, ellipsis, new-axis and shrink-axis masks)
// written as ONNX Slice → Squeeze → Unsqueeze.
import { constInput, refuse, type OpContext } from './graph-context.js';

/** A bound far outside any dim: ONNX Slice clamps it (start/end "to the edge"). */
const FAR = 2 ** 31 - 1;

const bit = (mask: number, i: number): boolean => ((mask >> i) & 1) === 1;

/**
 * StridedSlice with constant begin, end and strides. Each spec entry i is, in TF's order of
 * precedence: the ellipsis (covers the dims no other entry names), a new axis (size-1 output dim),
 * a shrink (index `begin[i]`, the dim removed) or a range (begin/end masked to the edge).
 */
export function stridedSlice(c: OpContext): void {
  const rank = c.shape(0).length;
  const begin = constInput(c, 1, 'begin').values;
  const end = constInput(c, 2, 'end').values;
  const strides = constInput(c, 3, 'strides').values;
  const mask = (k: string) => Number(c.attr(k) ?? 0);
  const [beginMask, endMask, ellipsisMask, newAxisMask, shrinkMask] = ['beginMask', 'endMask', 'ellipsisMask', 'newAxisMask', 'shrinkAxisMask'].map(mask) as [number, number, number, number, number];
  const m = begin.length;
  let named = 0;
  for (let i = 0; i < m; i++) if (!bit(ellipsisMask, i) && !bit(newAxisMask, i)) named++;
  if (named > rank) refuse(c, `slices ${named} dims of a rank-${rank} tensor`);
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const steps: number[] = [];
  const squeeze: number[] = [];
  const unsqueeze: number[] = [];
  let dim = 0; // input dim
  let out = 0; // output dim (after squeeze and unsqueeze)
  let sawEllipsis = false;
  for (let i = 0; i < m; i++) {
    if (bit(ellipsisMask, i)) {
      if (sawEllipsis) refuse(c, 'has two ellipses');
      sawEllipsis = true;
      const covered = rank - named;
      dim += covered;
      out += covered;
      continue;
    }
    if (bit(newAxisMask, i)) {
      unsqueeze.push(out++);
      continue;
    }
    const s = strides[i]!;
    if (s === 0) refuse(c, 'has a zero stride');
    if (bit(shrinkMask, i)) {
      const b = begin[i]!;
      starts.push(b);
      ends.push(b === -1 ? FAR : b + 1);
      axes.push(dim);
      steps.push(1);
      squeeze.push(dim);
      dim++;
      continue;
    }
    const b = bit(beginMask, i) ? (s > 0 ? 0 : FAR) : begin[i]!;
    const e = bit(endMask, i) ? (s > 0 ? FAR : -FAR) : end[i]!;
    if (!(b === 0 && e === FAR && s === 1)) {
      starts.push(b);
      ends.push(e);
      axes.push(dim);
      steps.push(s);
    }
    dim++;
    out++;
  }
  let y = c.input(0);
  if (axes.length > 0) y = c.g.op('Slice', [y, c.g.ints(starts), c.g.ints(ends), c.g.ints(axes), c.g.ints(steps)]);
  if (squeeze.length > 0) y = c.g.op('Squeeze', [y, c.g.ints(squeeze)]);
  if (unsqueeze.length > 0) y = c.g.op('Unsqueeze', [y, c.g.ints(unsqueeze)]);
  c.g.op('Identity', [y], [], c.out);
}
