// VJP rule of Resize (nearest with every coordinate and rounding mode, linear/bilinear): Resize is
// linear in its input and separable, y = x ×₁ M₁ … ×ₖ Mₖ with one [out, in] interpolation matrix
// per resized axis, so dx = dy ×ₖ Mₖᵀ … ×₁ M₁ᵀ: one MatMul per resized axis, with matrices built
// from the probe's static shapes exactly as ONNX Runtime computes the coordinates (in float32).
import { attrInt, attrInts, intsAttr } from '../../graph/build.js';
import { attrOrEmpty, first, op, unsupported, type RuleContext, type VjpRule } from './common.js';

/** Largest interpolation matrix built (entries): a 4096 × 4096 resize, 64 MiB of float32. */
const MAX_MATRIX = 4096 * 4096;

const f = Math.fround;

/** Input coordinate of output index `i` (ONNX's coordinate_transformation_mode), in float32 as ORT. */
export function sourceCoordinate(mode: string, i: number, scale: number, inLen: number, outLen: number): number {
  switch (mode) {
    case 'half_pixel':
      return f(f(f(i + 0.5) / scale) - 0.5);
    case 'pytorch_half_pixel':
      return outLen > 1 ? f(f(f(i + 0.5) / scale) - 0.5) : 0;
    case 'align_corners':
      return outLen === 1 ? 0 : f(f(i * (inLen - 1)) / (outLen - 1));
    case 'asymmetric':
      return f(i / scale);
    case 'tf_half_pixel_for_nn':
      return f(f(i + 0.5) / scale);
    default:
      return Number.NaN;
  }
}

/** The source index of a nearest resize (ONNX's nearest_mode), clamped to the input. */
function nearestIndex(x: number, rounding: string, inLen: number): number {
  let k: number;
  if (rounding === 'floor') k = Math.floor(x);
  else if (rounding === 'ceil') k = Math.ceil(x);
  else if (rounding === 'round_prefer_ceil') k = Math.round(x);
  else k = x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x); // round_prefer_floor
  return Math.min(Math.max(k, 0), inLen - 1);
}

/** The [outLen, inLen] matrix of a 1-D resize (row i: the weights output i takes from the input). */
export function resizeMatrix(mode: 'nearest' | 'linear', coord: string, rounding: string, scale: number, inLen: number, outLen: number): number[] {
  const m = new Array<number>(outLen * inLen).fill(0);
  for (let i = 0; i < outLen; i++) {
    const x = sourceCoordinate(coord, i, scale, inLen, outLen);
    if (mode === 'nearest') {
      m[i * inLen + nearestIndex(x, rounding, inLen)] = 1;
      continue;
    }
    // linear: ORT clamps the coordinate into [0, in − 1] and mixes its two neighbours
    const c = Math.min(Math.max(x, 0), inLen - 1);
    const lo = Math.floor(c);
    const hi = Math.min(lo + 1, inLen - 1);
    const w = f(c - lo);
    m[i * inLen + lo]! += f(1 - w);
    m[i * inLen + hi]! += w;
  }
  return m;
}

export const RESIZE_RULES: Readonly<Record<string, VjpRule>> = {
  Resize: (n, dy, ctx) => {
    const x = first(n);
    const [, roi, scalesName] = n.input!;
    if (roi && ctx.onPath(roi)) throw unsupported(n, 'a region of interest that depends on the input');
    const mode = attrOrEmpty(n, 'mode') || 'nearest';
    if (mode !== 'nearest' && mode !== 'linear') throw unsupported(n, `mode '${mode}'`);
    const coord = attrOrEmpty(n, 'coordinate_transformation_mode') || 'half_pixel';
    if (Number.isNaN(sourceCoordinate(coord, 0, 1, 2, 2))) throw unsupported(n, `coordinate_transformation_mode '${coord}'`);
    if (attrInt(n, 'antialias', 0) !== 0) throw unsupported(n, 'antialias');
    if (attrInts(n, 'axes', []).length > 0) throw unsupported(n, "the 'axes' attribute");
    const rounding = attrOrEmpty(n, 'nearest_mode') || 'round_prefer_floor';
    const xs = ctx.shape(x);
    const ys = ctx.shape(n.output![0]!);
    // scales as given (ORT computes coordinates with them), else out/in (what ORT uses with sizes)
    const given = scalesName ? ctx.constantFloats(scalesName) : undefined;
    const scales = given && given.length === xs.length ? given : xs.map((d, i) => ys[i]! / d);
    let dx = dy;
    const rank = xs.length;
    for (let a = rank - 1; a >= 0; a--) {
      if (xs[a] === ys[a] && scales[a] === 1) continue;
      if (a === 0) throw unsupported(n, 'resizing the batch dimension');
      if (xs[a]! * ys[a]! > MAX_MATRIX) throw unsupported(n, `an axis resized from ${xs[a]} to ${ys[a]} (interpolation matrix over ${MAX_MATRIX} entries)`);
      dx = alongAxis(ctx, dx, resizeMatrix(mode, coord, rounding, scales[a]!, xs[a]!, ys[a]!), ys[a]!, xs[a]!, a, rank);
    }
    return [dx, undefined, undefined, undefined];
  },
};

/** `t` contracted with the [out, in] matrix `m` (row-major values) along axis `a`: the axis goes from out to in. */
export function alongAxis(ctx: RuleContext, t: string, m: readonly number[], out: number, len: number, a: number, rank: number): string {
  if (a === rank - 2) {
    const mt = Array.from({ length: len * out }, (_, k) => m[(k % out) * len + Math.floor(k / out)]!);
    return op(ctx, 'MatMul', [ctx.constantTensor([len, out], mt), t]);
  }
  const matrix = ctx.constantTensor([out, len], m);
  if (a === rank - 1) return op(ctx, 'MatMul', [t, matrix]);
  const perm = [...Array(rank).keys()];
  [perm[a], perm[rank - 1]] = [perm[rank - 1]!, perm[a]!];
  const moved = op(ctx, 'MatMul', [op(ctx, 'Transpose', [t], [intsAttr('perm', perm)]), matrix]);
  return op(ctx, 'Transpose', [moved], [intsAttr('perm', perm)]);
}
