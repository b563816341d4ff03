/**
 * nndeploy's graph JSON, as its backend stores it and its own editor writes it.
 *
 * A graph is a node (`key_`, `name_`, `inputs_`, `outputs_`) whose `node_repository_` holds its nodes;
 * a node with a `node_repository_` of its own is a nested graph (a composite node). There are no edge
 * objects: an edge is a name (`Canny@output_0`) that one node lists in `outputs_` and others in `inputs_`.
 * Every field the editor does not know is kept as it is, so these types only name the fields it reads.
 */

export interface IPortJSON {
  name_?: string;
  type_?: string;
  desc_?: string;
  [key: string]: unknown;
}

export interface INodeJSON {
  key_?: string;
  name_: string;
  inputs_?: IPortJSON[];
  outputs_?: IPortJSON[];
  node_repository_?: INodeJSON[];
  node_type_?: string;
  is_graph_?: boolean;
  [key: string]: unknown;
}

export interface IXY {
  x: number;
  y: number;
}

/** One entry of `nndeploy_ui_layout.layout`; older files wrote `{x, y}` instead of `position`. */
export interface ILayoutEntry {
  position?: IXY;
  size?: { width: number; height: number };
  expanded?: boolean;
  children?: Record<string, ILayoutEntry>;
  x?: number;
  y?: number;
  [key: string]: unknown;
}

export interface IUiLayout {
  layout?: Record<string, ILayoutEntry>;
  groups?: unknown[];
  [key: string]: unknown;
}

export interface IGraphJSON extends INodeJSON {
  nndeploy_ui_layout?: IUiLayout;
}

/** Node ids are the `name_` path from the top level down, joined with this separator. */
export const PATH_SEPARATOR = '/';

export function nodeId(parentId: string | null, name: string): string {
  return parentId === null ? name : `${parentId}${PATH_SEPARATOR}${name}`;
}

export function parentOf(id: string): string | null {
  const cut = id.lastIndexOf(PATH_SEPARATOR);
  return cut < 0 ? null : id.slice(0, cut);
}

export function nameOf(id: string): string {
  return id.slice(id.lastIndexOf(PATH_SEPARATOR) + 1);
}

/** The nodes of a graph or composite node (an empty list when it has none). */
export function childrenOf(node: INodeJSON): INodeJSON[] {
  return Array.isArray(node.node_repository_)
    ? node.node_repository_.filter(isNode)
    : [];
}

export function isNode(value: unknown): value is INodeJSON {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as INodeJSON).name_ === 'string'
  );
}

/** A composite node: it holds nodes of its own, shown as a group that can be expanded. */
export function isComposite(node: INodeJSON): boolean {
  return childrenOf(node).length > 0;
}

export function ports(node: INodeJSON, side: 'inputs_' | 'outputs_'): IPortJSON[] {
  const list = node[side];
  return Array.isArray(list) ? list : [];
}

/** Find a node by id in a graph; null when the path does not exist. */
export function findNode(graph: INodeJSON, id: string): INodeJSON | null {
  let node: INodeJSON | null = graph;
  for (const name of id.split(PATH_SEPARATOR)) {
    node = childrenOf(node).find(child => child.name_ === name) ?? null;
    if (node === null) {
      return null;
    }
  }
  return node;
}

/** Every node of a graph with its id, parents before their children. */
export function* walk(
  graph: INodeJSON,
  parentId: string | null = null
): Generator<{ id: string; node: INodeJSON; parentId: string | null }> {
  for (const node of childrenOf(graph)) {
    const id = nodeId(parentId, node.name_);
    yield { id, node, parentId };
    yield* walk(node, id);
  }
}

/** One edge between two sibling nodes: the consumer's input `inIndex` reads the producer's output. */
export interface IEdgeRef {
  id: string;
  source: string;
  sourcePort: number;
  target: string;
  targetPort: number;
  name: string;
}

/** The edges among the children of `parent` (at `parentId`), found by matching port names. */
export function edgesAmong(parent: INodeJSON, parentId: string | null): IEdgeRef[] {
  const producers = new Map<string, { id: string; port: number }>();
  for (const node of childrenOf(parent)) {
    ports(node, 'outputs_').forEach((port, index) => {
      if (port.name_ && !producers.has(port.name_)) {
        producers.set(port.name_, { id: nodeId(parentId, node.name_), port: index });
      }
    });
  }
  const edges: IEdgeRef[] = [];
  for (const node of childrenOf(parent)) {
    const target = nodeId(parentId, node.name_);
    ports(node, 'inputs_').forEach((port, index) => {
      const producer = port.name_ ? producers.get(port.name_) : undefined;
      if (producer && producer.id !== target) {
        edges.push({
          id: edgeId(target, index),
          source: producer.id,
          sourcePort: producer.port,
          target,
          targetPort: index,
          name: port.name_ as string
        });
      }
    });
  }
  return edges;
}

export function edgeId(target: string, inputIndex: number): string {
  return `${target}#in${inputIndex}`;
}

/** Deep copy of plain JSON. */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}
