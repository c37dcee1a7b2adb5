// TF writes a dilated convolution as SpaceToBatchND → Conv2D (VALID, stride 1) → BatchToSpaceND;
// the ONNX export writes the three as one Conv with dilations = block and pads = paddings − crops.
import type { GraphNodeLike } from '../../tfjs/graph-model.js';
import { inputsOf, splitTensorName } from '../../tfjs/graph-path.js';
import { refuse, type ConstValue, type OpContext } from './graph-context.js';

/** One SpaceToBatchND → convolution → BatchToSpaceND chain. */
export interface DilatedConv {
  readonly s2b: GraphNodeLike;
  readonly conv: GraphNodeLike;
}

const CONVS = new Set(['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'DepthwiseConv2d', 'FusedDepthwiseConv2dNative']);

/** BatchToSpaceND node name → its chain, for chains whose inner nodes feed nothing else. */
export function findDilatedConvs(all: readonly GraphNodeLike[], needed: ReadonlySet<string>): Map<string, DilatedConv> {
  const byName = new Map(all.map((n) => [n.name, n]));
  const consumers = new Map<string, number>();
  for (const n of all) if (needed.has(n.name)) for (const t of inputsOf(n)) consumers.set(splitTensorName(t)[0], (consumers.get(splitTensorName(t)[0]) ?? 0) + 1);
  const found = new Map<string, DilatedConv>();
  for (const n of all) {
    if (n.op !== 'BatchToSpaceND' || !needed.has(n.name)) continue;
    const conv = byName.get(splitTensorName(inputsOf(n)[0] ?? '')[0]);
    if (!conv || !CONVS.has(conv.op) || consumers.get(conv.name) !== 1) continue;
    const s2b = byName.get(splitTensorName(inputsOf(conv)[0] ?? '')[0]);
    if (!s2b || s2b.op !== 'SpaceToBatchND' || consumers.get(s2b.name) !== 1) continue;
    found.set(n.name, { s2b, conv });
  }
  return found;
}

/**
 * The conv's attributes for the whole chain: dilations = block, explicit pads = the
 * SpaceToBatchND paddings minus the BatchToSpaceND crops (cropping the output's first rows moves
 * the windows' start like less padding does).
 */
export function dilatedConvAttrs(c: OpContext, conv: GraphNodeLike, consts: { block: ConstValue; paddings: ConstValue; block2: ConstValue; crops: ConstValue }): Record<string, unknown> {
  const attr = (k: string) => conv.attrParams?.[k]?.value;
  const strides = Array.isArray(attr('strides')) ? (attr('strides') as number[]) : [1, 1, 1, 1];
  const dil = Array.isArray(attr('dilations')) ? (attr('dilations') as number[]) : [1, 1, 1, 1];
  const { block, paddings, block2, crops } = consts;
  if (String(attr('pad') ?? 'valid').toLowerCase() !== 'valid' || strides.some((s) => s !== 1) || dil.some((d) => d !== 1)) refuse(c, 'ends a SpaceToBatchND chain whose convolution is not VALID with stride and dilation 1');
  if (block.values.length !== 2 || block.values.some((b, i) => b !== block2.values[i])) refuse(c, 'has a block shape unlike its SpaceToBatchND (or not 2-D)');
  const p = paddings.values;
  const k = crops.values;
  const pads = [p[0]! - k[0]!, p[1]! - k[1]!, p[2]! - k[2]!, p[3]! - k[3]!]; // [top, bottom, left, right]
  if (pads.some((v) => v < 0)) refuse(c, 'crops more than its SpaceToBatchND pads');
  return { dilations: [1, block.values[0]!, block.values[1]!, 1], pad: 'explicit', explicitPaddings: [0, 0, ...pads, 0, 0] };
}
