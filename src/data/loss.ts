// Per-example training losses on a model's outputs, TRAK's margin output function, and their
// cotangents with respect to the outputs (what the backward pass starts from).
import { InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';

/** The per-example training loss ℓ (natural log; the objective is its mean plus (λ/2)‖θ‖²). */
export type LossName = 'cross-entropy' | 'mse';
export const LOSSES: readonly LossName[] = ['cross-entropy', 'mse'];

/** Training or test examples: inputs `[n, …row]` and targets (class ids `[n]`, or values `[n, units]` for MSE). */
export interface Examples {
  readonly x: { readonly shape: readonly number[]; readonly data: ArrayLike<number> };
  readonly y: { readonly shape: readonly number[]; readonly data: ArrayLike<number> };
}

/** One batch's losses and the cotangent of each row's objective with respect to its outputs. */
export interface OutputGrad {
  /** ℓ_i per row (or the margin, for {@link marginGrad}). */
  readonly value: Float64Array;
  /** d value_i / d z_i, `[rows, units]`. */
  readonly cotangent: Float64Array;
}

/**
 * Checks that `set` pairs n inputs of the model's row shape with n targets valid for `loss`: class
 * ids in [0, units) for cross-entropy, `[n, units]` values for MSE.
 * @throws {ShapeMismatchError} when X and Y differ in length or a row has the wrong shape.
 * @throws {InvalidArgumentError} when a class id is not an integer in range, or an input (or MSE target) is NaN or infinite.
 */
export function checkExamples(set: Examples, rowShape: readonly number[], units: number, loss: LossName, arg: string, fn: string): number {
  const n = checkShapes(set.x.shape, set.y.shape, rowShape, units, loss, arg, fn);
  const perRow = loss === 'cross-entropy' ? 1 : units;
  if (set.y.data.length !== n * perRow) throw new ShapeMismatchError(`Argument '${arg}.y' passed to '${fn}' must hold ${perRow} value(s) per example for the ${loss} loss, got ${set.y.data.length} values for ${n} examples`, { arg: `${arg}.y`, fn });
  checkValues(set.x.data, set.y.data, 0, units, loss, arg, fn);
  return n;
}

/**
 * The shape half of {@link checkExamples}: X `[n, …rowShape]`, Y `[n]` (cross-entropy) or `[n, units]`
 * (MSE; `[n]` when units = 1). Returns n.
 */
export function checkShapes(xShape: readonly number[], yShape: readonly number[], rowShape: readonly number[], units: number, loss: LossName, arg: string, fn: string): number {
  const n = xShape[0] ?? 0;
  const row = xShape.slice(1);
  if (row.length !== rowShape.length || row.some((d, i) => d !== rowShape[i])) {
    throw new ShapeMismatchError(`Argument '${arg}.x' passed to '${fn}' must have shape [n, ${rowShape.join(', ')}], got [${xShape.join(', ')}]`, { arg: `${arg}.x`, fn, expected: rowShape, actual: xShape });
  }
  if ((yShape[0] ?? -1) !== n) {
    throw new ShapeMismatchError(`Arguments '${arg}.x' and '${arg}.y' passed to '${fn}' must have the same number of examples, got ${n} inputs and ${yShape[0] ?? 0} targets`, { arg: `${arg}.y`, fn, inputs: n, targets: yShape[0] });
  }
  if (n < 1) throw new InvalidArgumentError(`Argument '${arg}' passed to '${fn}' must hold at least one example`, { arg, fn });
  const perRow = yShape.slice(1).reduce((a, b) => a * b, 1);
  if (loss === 'cross-entropy' && perRow !== 1) throw new ShapeMismatchError(`Argument '${arg}.y' passed to '${fn}' must hold one class id per example ([${n}]) for the cross-entropy loss, got shape [${yShape.join(', ')}]`, { arg: `${arg}.y`, fn });
  if (loss === 'mse' && perRow !== units) throw new ShapeMismatchError(`Argument '${arg}.y' passed to '${fn}' must hold ${units} target value(s) per example for the MSE loss, got shape [${yShape.join(', ')}]`, { arg: `${arg}.y`, fn });
  return n;
}

/**
 * The value half of {@link checkExamples} on a block of rows starting at example `first`: finite inputs,
 * class ids integers in [0, units) (cross-entropy) or finite targets (MSE).
 */
export function checkValues(x: ArrayLike<number>, y: ArrayLike<number>, first: number, units: number, loss: LossName, arg: string, fn: string): void {
  const rows = y.length / (loss === 'cross-entropy' ? 1 : units);
  const finite = (data: ArrayLike<number>, which: string) => {
    const per = data.length / rows;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        const index = first + Math.floor(i / per);
        throw new InvalidArgumentError(`Argument '${arg}.${which}' passed to '${fn}' must hold finite numbers; example ${index} has ${data[i]}`, { arg: `${arg}.${which}`, fn, index, value: data[i] });
      }
    }
  };
  finite(x, 'x'); // a NaN would run through every gradient into NaN scores
  if (loss === 'cross-entropy') {
    for (let i = 0; i < y.length; i++) {
      const c = y[i]!;
      if (!Number.isInteger(c) || c < 0 || c >= units) {
        const index = first + i;
        throw new InvalidArgumentError(`Argument '${arg}.y' passed to '${fn}' must hold class ids in [0, ${units - 1}] (the model has ${units} logits), got ${c} at example ${index}`, { arg: `${arg}.y`, fn, index, value: c, classes: units });
      }
    }
  } else finite(y, 'y');
}

/** Softmax of one row of logits, written into `p`. */
function softmaxRow(z: Float64Array, at: number, units: number, p: Float64Array): number {
  let max = -Infinity;
  for (let c = 0; c < units; c++) max = Math.max(max, z[at + c]!);
  let s = 0;
  for (let c = 0; c < units; c++) s += (p[c] = Math.exp(z[at + c]! - max));
  for (let c = 0; c < units; c++) p[c]! /= s;
  return max + Math.log(s); // log Σ e^z
}

/**
 * ℓ and dℓ/dz for `rows` rows of outputs `z` [rows, units], targets from `y` starting at row `start`.
 * Cross-entropy: ℓ = log Σ_c e^{z_c} − z_y, dℓ/dz = softmax(z) − onehot(y). MSE: ℓ = mean_c (z_c − y_c)²,
 * dℓ/dz = 2(z − y)/units.
 */
export function lossGrad(loss: LossName, z: Float64Array, y: ArrayLike<number>, start: number, units: number): OutputGrad {
  const rows = z.length / units;
  const value = new Float64Array(rows);
  const cotangent = new Float64Array(z.length);
  const p = new Float64Array(units);
  for (let i = 0; i < rows; i++) {
    const at = i * units;
    if (loss === 'cross-entropy') {
      const label = y[start + i]!;
      const lse = softmaxRow(z, at, units, p);
      value[i] = lse - z[at + label]!;
      for (let c = 0; c < units; c++) cotangent[at + c] = p[c]! - (c === label ? 1 : 0);
    } else {
      let s = 0;
      for (let c = 0; c < units; c++) {
        const r = z[at + c]! - y[(start + i) * units + c]!;
        s += r * r;
        cotangent[at + c] = (2 * r) / units;
      }
      value[i] = s / units;
    }
  }
  return { value, cotangent };
}

/**
 * TRAK's output function for classification, the margin f = log(p_y / (1 − p_y)) = z_y − log Σ_{c≠y} e^{z_c},
 * its cotangent df/dz (1 at y, −softmax over the other classes elsewhere), and TRAK's weight
 * q = 1 − p_y per row (`weight`).
 */
export function marginGrad(z: Float64Array, y: ArrayLike<number>, start: number, units: number): OutputGrad & { readonly weight: Float64Array } {
  const rows = z.length / units;
  const value = new Float64Array(rows);
  const weight = new Float64Array(rows);
  const cotangent = new Float64Array(z.length);
  const p = new Float64Array(units);
  for (let i = 0; i < rows; i++) {
    const at = i * units;
    const label = y[start + i]!;
    softmaxRow(z, at, units, p);
    let max = -Infinity;
    for (let c = 0; c < units; c++) if (c !== label) max = Math.max(max, z[at + c]!);
    let s = 0;
    for (let c = 0; c < units; c++) if (c !== label) s += Math.exp(z[at + c]! - max);
    value[i] = z[at + label]! - (max + Math.log(s));
    for (let c = 0; c < units; c++) cotangent[at + c] = c === label ? 1 : -Math.exp(z[at + c]! - max) / s;
    weight[i] = 1 - p[label]!;
  }
  return { value, cotangent, weight };
}
