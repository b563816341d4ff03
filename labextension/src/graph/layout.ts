/**
 * Where nodes sit: read from and written to `nndeploy_ui_layout` as nndeploy's own editor does, or laid out
 * automatically (dagre, left to right) when a graph has none.
 *
 * nndeploy's editor keys `layout` by node `name_`; a composite node's children are under its entry's
 * `children`, with positions relative to the composite. Older files wrote `{x, y}` instead of `position`.
 */
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';

import {
  childrenOf,
  edgesAmong,
  ILayoutEntry,
  INodeJSON,
  IGraphJSON,
  IXY,
  nodeId,
  PATH_SEPARATOR,
  ports,
  walk
} from './json';

export const NODE_WIDTH = 200;
/** nndeploy's editor writes this size for every node; it is what a new layout entry says. */
const NNDEPLOY_SIZE = { width: 200, height: 80 };
/** Card geometry (the node component draws its ports at these offsets). */
export const PORTS_TOP = 52;
export const PORT_ROW = 20;
const FOOTER = 28;
const HEADER = 34;
/** Room around the children of an expanded composite node (the header is above them). */
export const GROUP_PADDING = 20;

export interface ISize {
  width: number;
  height: number;
}

/** The card size of a node on the canvas: a header and one row per port. */
export function cardSize(node: INodeJSON): ISize {
  const rows = Math.max(ports(node, 'inputs_').length, ports(node, 'outputs_').length, 1);
  return { width: NODE_WIDTH, height: PORTS_TOP + rows * PORT_ROW + FOOTER };
}

export function storedPosition(graph: IGraphJSON, id: string): IXY | null {
  const entry = layoutEntry(graph, id);
  if (!entry) {
    return null;
  }
  const p = entry.position;
  if (p && Number.isFinite(p.x) && Number.isFinite(p.y)) {
    return { x: p.x, y: p.y };
  }
  if (Number.isFinite(entry.x) && Number.isFinite(entry.y)) {
    return { x: entry.x as number, y: entry.y as number };
  }
  return null;
}

function layoutEntry(graph: IGraphJSON, id: string): ILayoutEntry | undefined {
  let entries = graph.nndeploy_ui_layout?.layout;
  let entry: ILayoutEntry | undefined;
  for (const name of id.split(PATH_SEPARATOR)) {
    entry = isObject(entries) ? entries[name] : undefined;
    if (!isObject(entry)) {
      return undefined;
    }
    entries = entry.children;
  }
  return entry;
}

/** Write a node's position where nndeploy's editor keeps it (creating the entries on the way). */
export function storePosition(graph: IGraphJSON, id: string, position: IXY): void {
  if (!isObject(graph.nndeploy_ui_layout)) {
    graph.nndeploy_ui_layout = { layout: {}, groups: [] };
  }
  const ui = graph.nndeploy_ui_layout;
  if (!isObject(ui.layout)) {
    ui.layout = {};
  }
  let entries = ui.layout;
  const names = id.split(PATH_SEPARATOR);
  names.forEach((name, depth) => {
    if (!isObject(entries[name])) {
      entries[name] = { size: { ...NNDEPLOY_SIZE }, expanded: true };
    }
    const entry = entries[name];
    if (depth === names.length - 1) {
      entry.position = { x: position.x, y: position.y };
      delete entry.x; // the older form, replaced by `position`
      delete entry.y;
    } else {
      if (!isObject(entry.children)) {
        entry.children = {};
      }
      entries = entry.children;
    }
  });
}

export function forgetPosition(graph: IGraphJSON, id: string): void {
  const names = id.split(PATH_SEPARATOR);
  const last = names.pop() as string;
  const parent = names.length ? layoutEntry(graph, names.join(PATH_SEPARATOR))?.children : graph.nndeploy_ui_layout?.layout;
  if (isObject(parent)) {
    delete parent[last];
  }
}

/**
 * Positions of every node: stored ones where the layout has them; a level without any is laid out with
 * dagre; nodes missing from a partly stored level go in a column to the right of the stored ones.
 */
export function positionsOf(graph: IGraphJSON): Map<string, IXY> {
  const positions = new Map<string, IXY>();
  placeLevel(graph, graph, null, positions);
  for (const { id, node } of walk(graph)) {
    if (childrenOf(node).length) {
      placeLevel(graph, node, id, positions);
    }
  }
  return positions;
}

function placeLevel(graph: IGraphJSON, parent: INodeJSON, parentId: string | null, out: Map<string, IXY>): void {
  const ids = childrenOf(parent).map(child => nodeId(parentId, child.name_));
  const stored = ids.map(id => storedPosition(graph, id));
  if (stored.every(p => p === null)) {
    autoLayout(parent, parentId).forEach((p, id) => out.set(id, p));
    return;
  }
  let right = -Infinity;
  let top = Infinity;
  ids.forEach((id, i) => {
    const p = stored[i];
    if (p) {
      out.set(id, p);
      right = Math.max(right, p.x + NODE_WIDTH);
      top = Math.min(top, p.y);
    }
  });
  let y = top;
  childrenOf(parent).forEach((child, i) => {
    if (!stored[i]) {
      out.set(ids[i], { x: right + 80, y });
      y += cardSize(child).height + 40;
    }
  });
}

/** A left-to-right layered layout of one level (top-left corners, offset to clear a group's header). */
export function autoLayout(parent: INodeJSON, parentId: string | null): Map<string, IXY> {
  const g = new graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 40, ranksep: 90, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const sizes = new Map<string, ISize>();
  for (const child of childrenOf(parent)) {
    const id = nodeId(parentId, child.name_);
    const size = cardSize(child);
    sizes.set(id, size);
    g.setNode(id, { ...size });
  }
  for (const edge of edgesAmong(parent, parentId)) {
    g.setEdge(edge.source, edge.target);
  }
  dagreLayout(g);
  const origin = parentId === null ? { x: 0, y: 0 } : { x: GROUP_PADDING, y: HEADER + GROUP_PADDING };
  const out = new Map<string, IXY>();
  sizes.forEach((size, id) => {
    const n = g.node(id) as { x: number; y: number };
    out.set(id, { x: origin.x + n.x - size.width / 2, y: origin.y + n.y - size.height / 2 });
  });
  return out;
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
