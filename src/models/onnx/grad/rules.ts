// One vector–Jacobian rule per ONNX op: given the cotangent of a node's output, emit standard ONNX
// nodes computing the cotangents of its inputs (see docs/onnx-backward-experiment.md).
// The rules live in rules/, one file per op family.
import { ACTIVATION_RULES } from './rules/activation.js';
import { ARITHMETIC_RULES } from './rules/arithmetic.js';
import type { VjpRule } from './rules/common.js';
import { LINEAR_RULES } from './rules/linear.js';
import { MISC_RULES } from './rules/misc.js';
import { REDUCE_RULES } from './rules/reduce.js';
import { RESIZE_RULES } from './rules/resize.js';
import { SHAPE_RULES } from './rules/shape.js';
import { TENSOR_RULES } from './rules/tensor.js';

export { TIES_TO_FIRST } from './rules/common.js';
export type { RuleContext, VjpRule } from './rules/common.js';

/** Ops whose rule runs when only a later output has a cotangent. */
export const MULTI_OUTPUT: ReadonlySet<string> = new Set(['Split']);

/** Every op's rule, by op type. */
export const RULES: Readonly<Record<string, VjpRule>> = { ...SHAPE_RULES, ...LINEAR_RULES, ...ACTIVATION_RULES, ...ARITHMETIC_RULES, ...REDUCE_RULES, ...RESIZE_RULES, ...TENSOR_RULES, ...MISC_RULES };
