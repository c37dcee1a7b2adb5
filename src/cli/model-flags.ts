// Flags that say which tensors of an ONNX model are attributed, which inputs are fixed at load and
// where its other inputs keep their batch: passed to loadModel (inputName, outputName,
// constantInputs, inputBatchAxes).
import { InvalidArgumentError } from '../core/errors.js';
import type { LoadModelOptions } from '../io/load-model.js';
import type { FlagSpec, FlagValue } from './args.js';
import { readTensorFile } from './inputs.js';

export const MODEL_TENSOR_FLAGS: readonly FlagSpec[] = [
  { name: 'input-name', type: 'string', help: '.onnx: the input to attribute (a graph input, or an intermediate tensor to cut the graph at); default the first input' },
  { name: 'output-name', type: 'string', help: '.onnx: the output to attribute (a graph output, or an intermediate tensor such as the logits under a sigmoid); default the first output' },
  { name: 'constant-inputs', type: 'string', help: ".onnx: inputs fixed at load as constants of the graph: name=NUMBER or name=FILE (.npy/.json), comma-separated, e.g. sr=16000 (an If they decide is inlined, so gradients can flow)" },
  { name: 'input-batch-axes', type: 'string', help: ".onnx: batch axis of the model's other inputs: name=AXIS or name=none (one value shared by every row), comma-separated, e.g. state=1,sr=none" },
];

const NAME = /^[^=,\s]+$/;

/**
 * `--input-batch-axes state=1,sr=none` as loadModel's `inputBatchAxes` (`none` → null).
 * @throws {InvalidArgumentError} `invalid_argument` for a part that is not NAME=AXIS, an axis that is not a
 *   non-negative integer or `none`, or a name given twice.
 */
export function parseBatchAxes(spec: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const part of spec.split(',')) {
    const [name, axis, ...rest] = part.trim().split('=');
    if (name === undefined || !NAME.test(name) || axis === undefined || rest.length > 0) {
      throw new InvalidArgumentError(`Option '--input-batch-axes' takes NAME=AXIS[,NAME=AXIS…] (AXIS an integer ≥ 0 or none), got '${part}'`, { arg: 'input-batch-axes', value: spec });
    }
    if (Object.hasOwn(out, name)) throw new InvalidArgumentError(`Option '--input-batch-axes' names input '${name}' twice`, { arg: 'input-batch-axes', input: name });
    if (axis === 'none') out[name] = null;
    else if (/^\d+$/.test(axis) && Number(axis) <= 64) out[name] = Number(axis);
    else throw new InvalidArgumentError(`Option '--input-batch-axes' gives input '${name}' the axis '${axis}'; it must be an integer ≥ 0 or none`, { arg: 'input-batch-axes', input: name, value: axis });
  }
  return out;
}

/**
 * `--constant-inputs sr=16000,bias=b.npy` as loadModel's `constantInputs` (files read as tensors, row-major).
 * @throws {InvalidArgumentError} `invalid_argument` for a part that is not NAME=VALUE or a name given twice;
 *   the file reader's errors for a file that cannot be read.
 */
export async function parseConstantInputs(spec: string): Promise<Record<string, number | number[]>> {
  const out: Record<string, number | number[]> = {};
  for (const part of spec.split(',')) {
    const at = part.indexOf('=');
    const name = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (at < 0 || !NAME.test(name) || value === '') {
      throw new InvalidArgumentError(`Option '--constant-inputs' takes NAME=NUMBER or NAME=FILE[,…], got '${part}'`, { arg: 'constant-inputs', value: spec });
    }
    if (Object.hasOwn(out, name)) throw new InvalidArgumentError(`Option '--constant-inputs' names input '${name}' twice`, { arg: 'constant-inputs', input: name });
    const n = Number(value);
    out[name] = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(value) && Number.isFinite(n) ? n : Array.from((await readTensorFile(value, `constant input '${name}'`)).data);
  }
  return out;
}

/** loadModel options from the parsed flags (only those given). */
export async function modelTensorOptions(flags: ReadonlyMap<string, FlagValue>): Promise<Pick<LoadModelOptions, 'inputName' | 'outputName' | 'inputBatchAxes' | 'constantInputs'>> {
  const inputName = flags.get('input-name');
  const outputName = flags.get('output-name');
  const axes = flags.get('input-batch-axes');
  const constants = flags.get('constant-inputs');
  return {
    ...(typeof inputName === 'string' ? { inputName } : {}),
    ...(typeof outputName === 'string' ? { outputName } : {}),
    ...(typeof axes === 'string' ? { inputBatchAxes: parseBatchAxes(axes) } : {}),
    ...(typeof constants === 'string' ? { constantInputs: await parseConstantInputs(constants) } : {}),
  };
}
