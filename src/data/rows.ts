// Training rows read in blocks: the seam that lets every method stream the training set from memory
// or from files without holding all of X and Y at once.
import { InvalidArgumentError, ShapeMismatchError } from '../core/errors.js';
import { checkExamples, checkShapes, checkValues, type Examples, type LossName } from './loss.js';

/** Rows [start, end) of a training set as float64: inputs `[rows, …xShape]` and targets `[rows, …yShape]`. */
export interface RowBlock {
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/**
 * A training set read a block of rows at a time (n examples; each input of shape `xShape`, each target
 * of shape `yShape`: `[]` for a class id, `[units]` for MSE). `read` may be called many times, in any
 * order (one pass per gradient of the objective); it must return the same values each time.
 */
export interface TrainingRows {
  readonly n: number;
  readonly xShape: readonly number[];
  readonly yShape: readonly number[];
  read(start: number, end: number): Promise<RowBlock>;
}

/** What the methods take as a training set: examples in memory, or a row source. */
export type TrainingSet = Examples | TrainingRows;

/** One array of a row source: its shape `[n, …]` and float64 copies of row ranges (e.g. an .npy file reader). */
export interface RowArray {
  readonly shape: readonly number[];
  readRows(start: number, end: number): Promise<Float64Array>;
}

const isRows = (set: TrainingSet): set is TrainingRows => 'read' in set;
const product = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Copies rows [start, end) of a row-major array of `size` values per row into float64. */
function copyRows(data: ArrayLike<number>, size: number, start: number, end: number): Float64Array {
  const out = new Float64Array((end - start) * size);
  for (let k = 0; k < out.length; k++) out[k] = data[start * size + k]!;
  return out;
}

/** The in-memory row source of `set` (each block a float64 copy of its rows, as the methods always read them). */
export function memoryRows(set: Examples): TrainingRows {
  const n = set.x.shape[0] ?? 0;
  const [xs, ys] = [product(set.x.shape.slice(1)), n > 0 ? set.y.data.length / n : 0];
  return {
    n,
    xShape: set.x.shape.slice(1),
    yShape: set.y.shape.slice(1),
    read: async (start, end) => ({ x: copyRows(set.x.data, xs, start, end), y: copyRows(set.y.data, ys, start, end) }),
  };
}

/** `set` as a row source (a row source is returned as is). */
export const asRows = (set: TrainingSet): TrainingRows => (isRows(set) ? set : memoryRows(set));

/** Number of examples of a training set. */
export const rowCount = (set: TrainingSet): number => (isRows(set) ? set.n : (set.x.shape[0] ?? 0));

/**
 * A row source pairing an input array `[n, …]` and a target array `[n, …]` (for instance two .npy
 * file readers); only the rows asked for are read.
 * @throws {InvalidArgumentError} when the arrays have no rows axis.
 * @throws {ShapeMismatchError} when they differ in number of rows.
 */
export function pairedRows(x: RowArray, y: RowArray): TrainingRows {
  if (x.shape.length < 1 || y.shape.length < 1) throw new InvalidArgumentError(`Arguments 'x' and 'y' passed to 'pairedRows' must have a leading examples axis, got shapes [${x.shape.join(', ')}] and [${y.shape.join(', ')}]`, { arg: 'x', fn: 'pairedRows' });
  if (x.shape[0] !== y.shape[0]) {
    throw new ShapeMismatchError(`Arguments 'x' and 'y' passed to 'pairedRows' must have the same number of examples, got ${x.shape[0]} inputs and ${y.shape[0]} targets`, { arg: 'y', fn: 'pairedRows', inputs: x.shape[0], targets: y.shape[0] });
  }
  return {
    n: x.shape[0]!,
    xShape: x.shape.slice(1),
    yShape: y.shape.slice(1),
    read: async (start, end) => {
      const [xb, yb] = await Promise.all([x.readRows(start, end), y.readRows(start, end)]);
      return { x: xb, y: yb };
    },
  };
}

/**
 * {@link checkExamples} for any training set; a row source is checked block by block (one read pass of
 * `blockRows` rows at a time). Returns n.
 */
export async function checkTrainingSet(set: TrainingSet, rowShape: readonly number[], units: number, loss: LossName, blockRows: number, arg: string, fn: string): Promise<number> {
  if (!isRows(set)) return checkExamples(set, rowShape, units, loss, arg, fn);
  const rows = set;
  const n = checkShapes([rows.n, ...rows.xShape], [rows.n, ...rows.yShape], rowShape, units, loss, arg, fn);
  for (let start = 0; start < n; start += blockRows) {
    const block = await rows.read(start, Math.min(n, start + blockRows));
    checkValues(block.x, block.y, start, units, loss, arg, fn);
  }
  return n;
}
