/**
 * The canvas's nodes and edges from one derivation to the next. React Flow compares them by identity: one
 * that did not change keeps its object, so React Flow redraws only the changed ones and keeps what it
 * measured of the others (re-measuring 200 nodes costs more than drawing them).
 */
import type { Dimensions, Edge } from '@xyflow/react';

import { GraphNode } from '../view';

export class Kept {
  /** The derived view with the selection applied, as objects React Flow already has wherever they are equal. */
  view(
    derived: { nodes: GraphNode[]; edges: Edge[] },
    selected: string | null,
    measured: ReadonlyMap<string, Dimensions>
  ): { nodes: GraphNode[]; edges: Edge[] } {
    const nodes = derived.nodes.map(n => (n.id === selected ? { ...n, selected: true } : n));
    return {
      nodes: reuse(this._nodes, nodes, node => withMeasured(node, measured)),
      edges: reuse(this._edges, derived.edges, edge => edge)
    };
  }

  private _nodes = new Map<string, [string, GraphNode]>();
  private _edges = new Map<string, [string, Edge]>();
}

/**
 * A node made afresh, with the size React Flow measured of its predecessor (when it is still the size the
 * node says): React Flow then keeps its measured ports instead of hiding its edges until it measures again.
 */
export function withMeasured(node: GraphNode, measured: ReadonlyMap<string, Dimensions>): GraphNode {
  const size = measured.get(node.id);
  return size && size.width === node.width && size.height === node.height ? { ...node, measured: size } : node;
}

/** Each item as the kept object when it equals it (as JSON), else as `made(item)`; `kept` becomes this set. */
function reuse<T extends { id: string }>(kept: Map<string, [string, T]>, items: T[], made: (item: T) => T): T[] {
  const previous = new Map(kept);
  kept.clear();
  return items.map(item => {
    const key = JSON.stringify(item);
    const before = previous.get(item.id);
    const chosen = before && before[0] === key ? before[1] : made(item);
    kept.set(item.id, [key, chosen]);
    return chosen;
  });
}
