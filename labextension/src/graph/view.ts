/**
 * What the canvas shows, derived from the model and the editor's state: React Flow nodes (cards, and
 * expanded composite nodes as groups around their children) and edges. Pure: no React in here.
 */
import type { Edge, Node } from '@xyflow/react';

import { childrenOf, edgesAmong, IGraphJSON, INodeJSON, isComposite, IXY, nodeId, ports } from './json';
import { cardSize, GROUP_PADDING, ISize, NODE_WIDTH } from './layout';
import { GraphModel } from './model';
import { INodeRun, RunState } from './run';

export interface IPortView {
  label: string;
  type: string;
  connected: boolean;
}

export interface INodeView extends Record<string, unknown> {
  name: string;
  key: string;
  role: string;
  inputs: IPortView[];
  outputs: IPortView[];
  composite: { children: number; expanded: boolean } | null;
  run?: INodeRun;
  issue?: string;
}

export type GraphNode = Node<INodeView>;

export interface IViewState {
  expanded: ReadonlySet<string>;
  selected: string | null;
  run: RunState | null;
  issue: { nodeId: string | null; message: string } | null;
}

export function graphView(model: GraphModel, state: IViewState): { nodes: GraphNode[]; edges: Edge[] } {
  const nodes: GraphNode[] = [];
  const edges: Edge[] = [];
  addLevel(model, model.graph, null, state, nodes, edges);
  return { nodes, edges };
}

function addLevel(
  model: GraphModel,
  parent: INodeJSON | IGraphJSON,
  parentId: string | null,
  state: IViewState,
  nodes: GraphNode[],
  edges: Edge[]
): void {
  const levelEdges = edgesAmong(parent, parentId);
  const wired = new Set(levelEdges.map(e => `${e.target}#${e.targetPort}`));
  // Inside a composite node, its children read its own inputs under their names: wired by the composite.
  const fromParent = new Set(parentId === null ? [] : ports(parent, 'inputs_').map(p => p.name_).filter(Boolean));
  for (const child of childrenOf(parent)) {
    const id = nodeId(parentId, child.name_);
    const expanded = isComposite(child) && state.expanded.has(id);
    const size = expanded ? groupSize(model, child, id) : cardSize(child);
    nodes.push({
      id,
      type: expanded ? 'group' : 'card',
      position: model.position(id),
      ...(parentId === null ? {} : { parentId }),
      data: nodeData(child, id, expanded, wired, fromParent, state),
      width: size.width,
      height: size.height,
      ...(state.selected === id ? { selected: true } : {}),
      ariaLabel: `Node ${child.name_}`,
      className: state.issue?.nodeId === id ? 'jp-mod-issue' : undefined
    });
    if (expanded) {
      addLevel(model, child, id, state, nodes, edges);
    }
  }
  for (const edge of levelEdges) {
    edges.push({
      id: edge.id,
      source: edge.source,
      sourceHandle: `out-${edge.sourcePort}`,
      target: edge.target,
      targetHandle: `in-${edge.targetPort}`,
      ariaLabel: `Edge ${edge.name} to ${edge.target}`,
      animated: state.run?.node(nameTail(edge.source))?.status === 'RUNNING'
    });
  }
}

function nodeData(
  node: INodeJSON,
  id: string,
  expanded: boolean,
  wired: Set<string>,
  fromParent: Set<string | undefined>,
  state: IViewState
): INodeView {
  return {
    name: node.name_,
    key: String(node.key_ ?? ''),
    role: String(node.node_type_ ?? ''),
    inputs: ports(node, 'inputs_').map((p, i) => ({
      label: String(p.desc_ ?? `input_${i}`),
      type: String(p.type_ ?? ''),
      connected: wired.has(`${id}#${i}`) || fromParent.has(p.name_)
    })),
    outputs: ports(node, 'outputs_').map((p, i) => ({
      label: String(p.desc_ ?? `output_${i}`),
      type: String(p.type_ ?? ''),
      connected: true
    })),
    composite: isComposite(node) ? { children: childrenOf(node).length, expanded } : null,
    run: state.run?.node(node.name_),
    issue: state.issue && state.issue.nodeId === id ? state.issue.message : undefined
  };
}

/** An expanded composite node is as large as its children's bounding box, and at least a card. */
function groupSize(model: GraphModel, node: INodeJSON, id: string): ISize {
  let right = NODE_WIDTH;
  let bottom = cardSize(node).height;
  for (const child of childrenOf(node)) {
    const p: IXY = model.position(nodeId(id, child.name_));
    const size = cardSize(child);
    right = Math.max(right, p.x + size.width + GROUP_PADDING);
    bottom = Math.max(bottom, p.y + size.height + GROUP_PADDING);
  }
  return { width: right, height: bottom };
}

function nameTail(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}
