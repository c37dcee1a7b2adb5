// The result of a transformer component method: scores per node, as a ComponentAttribution.
import * as tf from '@tensorflow/tfjs-core';
import { ComponentAttribution, type Diagnostics } from '../core/result.js';
import { nodeId, type NodeScore } from './nodes.js';

/** M on the clean run, and on the corrupt run when the method has one. */
export interface MetricValues {
  readonly clean: number;
  readonly corrupt?: number;
}

/**
 * Scores of transformer nodes (heads' q/k/v/z, MLP outputs, embeddings, residual streams). `values` is
 * `[1, nodes]` along the `component` axis, `components[k]` = `nodeId(nodes[k])`; `nodes` carries each
 * node's hook, layer, head and position with its score. The result owns `values` (`dispose()`).
 */
export class NodeAttribution extends ComponentAttribution {
  constructor(
    method: string,
    readonly nodes: readonly NodeScore[],
    readonly metric: MetricValues,
    diagnostics: Diagnostics,
    /** Method-specific numbers (DLA: `unembedBiasTerm`, `finalNormScale`). */
    readonly extra: Readonly<Record<string, number>> = {},
  ) {
    super(method, nodes.map(nodeId), ['component'], tf.tensor2d(nodes.map((n) => n.score), [1, nodes.length]), diagnostics);
  }

  /** The `attrib components` output: `{method, metric, nodes, diagnostics}`. */
  toJSON(): Record<string, unknown> {
    const { elapsedMs, evaluations, truncated } = this.diagnostics;
    return {
      method: this.method,
      metric: this.metric,
      nodes: this.nodes.map(({ hook, layer, head, position, score }) => ({ hook, layer, head, position, score })),
      diagnostics: { elapsedMs, evaluations, truncated, ...this.extra },
    };
  }
}
