// Which nodes of a TF.js graph model lie on the path from its input's values to its output.
import type { GraphNodeLike } from './graph-model.js';

/** Ops whose output depends on their input's shape only, never on its values. */
const SHAPE_ONLY = new Set(['Shape', 'ShapeN', 'Size', 'Rank']);

/** `node:k` → [node, k]. */
export function splitTensorName(name: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? [m[1]!, Number(m[2])] : [name, 0];
}

/** A node's data inputs (control inputs `^node` dropped), as tensor names. */
export const inputsOf = (n: GraphNodeLike): string[] => [...(n.inputNames ?? n.inputs.map((i) => i.name))].filter((s) => !s.startsWith('^'));

/** The nodes `output` needs (`needed`), and those whose values depend on `input`'s values (`dataDep`). */
export interface GraphPath {
  readonly needed: ReadonlySet<string>;
  readonly dataDep: ReadonlySet<string>;
}

/**
 * The path from `input` to `output` over `nodes` (topological order). Shape, Size and Rank cut the
 * path: their outputs depend on the input's shape, not its values (no gradient flows through them).
 */
export function graphPath(nodes: readonly GraphNodeLike[], input: string, output: string): GraphPath {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const needed = new Set<string>();
  const stack = [splitTensorName(output)[0]];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const n = byName.get(name);
    if (n) for (const i of inputsOf(n)) stack.push(splitTensorName(i)[0]);
  }
  const dataDep = new Set<string>();
  for (const n of nodes) {
    if (n.op === 'Placeholder' ? n.name === input : !SHAPE_ONLY.has(n.op) && inputsOf(n).some((i) => dataDep.has(splitTensorName(i)[0]))) dataDep.add(n.name);
  }
  return { needed, dataDep };
}

/** The path's op nodes (needed, data-dependent, not the input) in topological order. */
export const pathNodes = (nodes: readonly GraphNodeLike[], p: GraphPath, input: string): GraphNodeLike[] =>
  nodes.filter((n) => p.needed.has(n.name) && p.dataDep.has(n.name) && n.name !== input);
