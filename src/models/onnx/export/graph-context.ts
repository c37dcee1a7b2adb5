// What one GraphDef op converter sees (see graph-ops.ts), and its refusals.
import type * as tf from '@tensorflow/tfjs-core';
import { CapabilityError } from '../../../core/errors.js';
import type { GraphNodeLike } from '../../tfjs/graph-model.js';
import type { GraphWriter, Shape } from './writer.js';

/** A constant input (probed at batch 1; `batch2` is set when its value at batch 2 differs). */
export interface ConstValue {
  readonly shape: readonly number[];
  readonly values: readonly number[];
  readonly dtype: tf.DataType;
  readonly batch2?: readonly number[];
}

/** What one op converter sees. */
export interface OpContext {
  readonly node: GraphNodeLike;
  readonly model: string;
  /** The ONNX name the op's (first) output must carry: the node's name. */
  readonly out: string;
  readonly g: GraphWriter;
  /** Number of (data) inputs of the node. */
  readonly arity: number;
  /** ONNX name of input i (a constant input is written as an initializer). */
  input(i: number): string;
  shape(i: number): Shape;
  readonly outShape: Shape;
  constant(i: number): ConstValue | undefined;
  dataDependent(i: number): boolean;
  /** A parsed attribute (converter's camel-case name). */
  attr(key: string): unknown;
}

/** A refusal naming the node, its op and what about it the export does not write. */
export function refuse(c: OpContext, what: string): never {
  throw new CapabilityError(`Node '${c.node.name}' (${c.node.op}) of graph model '${c.model}' ${what}; it has no ONNX export`, { node: c.node.name, op: c.node.op });
}

/** The batch-independent constant value of input i, or a refusal. */
export function constInput(c: OpContext, i: number, what: string): ConstValue {
  const v = c.constant(i);
  if (!v || v.batch2) refuse(c, `needs a constant ${what} (input ${i})`);
  return v;
}

