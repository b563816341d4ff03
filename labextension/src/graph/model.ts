/**
 * The graph being edited: nndeploy's JSON itself is the state, so every field the editor does not know
 * stays as it was. Edits change that JSON in place (positions go into `nndeploy_ui_layout`), each one
 * after a snapshot for undo. Pure TypeScript: the canvas renders what this model says and calls its edits.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  childrenOf,
  clone,
  edgesAmong,
  findNode,
  IEdgeRef,
  IGraphJSON,
  INodeJSON,
  isComposite,
  IXY,
  nameOf,
  nodeId,
  parentOf,
  ports,
  walk
} from './json';
import { autoLayout, forgetPosition, positionsOf, storedPosition, storePosition } from './layout';

export type GraphChange = 'edit' | 'undo' | 'redo' | 'reset' | 'saved';

interface ISnapshot {
  json: string;
  positions: [string, IXY][];
  version: number;
  mergeKey?: string;
  at: number;
}

const HISTORY_LIMIT = 200;
/** Edits of one kind on one node this close together (typing in a field) are undone as one. */
const MERGE_WINDOW_MS = 1500;

export class GraphModel {
  constructor(graph: IGraphJSON) {
    this._graph = clone(graph);
    this._positions = positionsOf(this._graph);
  }

  get changed(): ISignal<this, GraphChange> {
    return this._changed;
  }

  /** The graph as it is now; read it, change it only through the edits below. */
  get graph(): Readonly<IGraphJSON> {
    return this._graph;
  }

  get name(): string {
    return this._graph.name_;
  }

  /** Changes with every edit, undo, redo and reset: what the canvas re-derives its view on. */
  get version(): number {
    return this._version;
  }

  get dirty(): boolean {
    return this._version !== this._savedVersion;
  }

  get canUndo(): boolean {
    return this._undo.length > 0;
  }

  get canRedo(): boolean {
    return this._redo.length > 0;
  }

  node(id: string): INodeJSON | null {
    return findNode(this._graph, id);
  }

  position(id: string): IXY {
    return this._positions.get(id) ?? { x: 0, y: 0 };
  }

  /** Edges among the nodes of the top level (`null`) or of a composite node. */
  edges(parentId: string | null): IEdgeRef[] {
    const parent = parentId === null ? this._graph : this.node(parentId);
    return parent ? edgesAmong(parent, parentId) : [];
  }

  /** Replace the whole graph (a file reloaded from disk); history starts again. */
  reset(graph: IGraphJSON): void {
    this._graph = clone(graph);
    this._positions = positionsOf(this._graph);
    this._undo = [];
    this._redo = [];
    this._version = this._savedVersion = ++this._counter;
    this._changed.emit('reset');
  }

  /** The JSON to save: the graph, with a layout entry for every node (nndeploy's editor writes them all). */
  toJSON(): IGraphJSON {
    const graph = clone(this._graph);
    for (const { id } of walk(graph)) {
      if (!storedPosition(graph, id)) {
        storePosition(graph, id, this.position(id));
      }
    }
    return graph;
  }

  markSaved(): void {
    this._savedVersion = this._version;
    this._changed.emit('saved');
  }

  // -- edits -------------------------------------------------------------------------------------------

  /** Set top-level fields of a node (from its properties form). */
  setFields(id: string, fields: Record<string, unknown>): void {
    const node = this.node(id);
    if (!node) {
      return;
    }
    const changed = Object.keys(fields).filter(
      key => JSON.stringify(node[key]) !== JSON.stringify(fields[key])
    );
    if (changed.length === 0) {
      return;
    }
    this._edit(() => {
      for (const key of changed) {
        node[key] = clone(fields[key]);
      }
    }, `fields:${id}:${changed.join(',')}`);
  }

  /** Add a node made from a catalogue entry; its name is made unique (`CannyNumpy_1`). Returns its id. */
  addNode(entity: INodeJSON, position: IXY, parentId: string | null = null): string {
    const parent = parentId === null ? this._graph : this.node(parentId);
    if (!parent) {
      throw new Error(`no node ${parentId}`);
    }
    const node = clone(entity);
    const name = this._freeName(String(entity.name_ || entity.key_ || 'Node').replace(/_\d+$/, ''));
    node.name_ = name;
    ports(node, 'outputs_').forEach((port, i) => {
      const fresh = `${name}@${port.desc_ || `output_${i}`}`;
      this._renameInside(node, port.name_, fresh);
      port.name_ = fresh;
    });
    ports(node, 'inputs_').forEach((port, i) => {
      const placeholder = isComposite(node) ? `${name}@${port.desc_ || `input_${i}`}` : '';
      this._renameInside(node, port.name_, placeholder);
      port.name_ = placeholder;
    });
    const id = nodeId(parentId, name);
    this._edit(() => {
      if (!Array.isArray(parent.node_repository_)) {
        parent.node_repository_ = [];
      }
      parent.node_repository_.push(node);
      this._place(id, position);
      for (const [childId, p] of autoLayout(node, id)) {
        this._place(childId, p);
      }
    });
    return id;
  }

  /** Delete nodes; the inputs they fed are left unconnected. */
  removeNodes(ids: string[]): void {
    const existing = ids.filter(id => this.node(id));
    if (existing.length === 0) {
      return;
    }
    this._edit(() => {
      for (const id of existing) {
        const parentId = parentOf(id);
        const parent = parentId === null ? this._graph : this.node(parentId);
        if (!parent) {
          continue; // its parent was deleted in this same edit
        }
        for (const edge of edgesAmong(parent, parentId)) {
          if (edge.source === id) {
            this._unplug(edge.target, edge.targetPort);
          }
        }
        parent.node_repository_ = childrenOf(parent).filter(n => n.name_ !== nameOf(id));
        forgetPosition(this._graph, id);
        for (const key of [...this._positions.keys()]) {
          if (key === id || key.startsWith(`${id}/`)) {
            this._positions.delete(key);
          }
        }
      }
    });
  }

  /** Whether an edge may go from `source`'s output to `target`'s input: siblings, and no cycle. */
  canConnect(source: string, target: string): boolean {
    if (source === target || parentOf(source) !== parentOf(target)) {
      return false;
    }
    const downstream = new Map<string, string[]>();
    for (const edge of this.edges(parentOf(source))) {
      downstream.set(edge.source, [...(downstream.get(edge.source) ?? []), edge.target]);
    }
    const seen = new Set<string>();
    const stack = [target];
    while (stack.length) {
      const id = stack.pop() as string;
      if (id === source) {
        return false; // target already reaches source: the edge would close a cycle
      }
      if (!seen.has(id)) {
        seen.add(id);
        stack.push(...(downstream.get(id) ?? []));
      }
    }
    return true;
  }

  /** Wire `source`'s output to `target`'s input (an input reads one edge: a previous one is replaced). */
  connect(source: string, sourcePort: number, target: string, targetPort: number): boolean {
    const from = this.node(source);
    const to = this.node(target);
    const output = from ? ports(from, 'outputs_')[sourcePort] : undefined;
    const input = to ? ports(to, 'inputs_')[targetPort] : undefined;
    if (!output?.name_ || !input || !this.canConnect(source, target) || input.name_ === output.name_) {
      return false;
    }
    this._edit(() => this._plug(to as INodeJSON, targetPort, output.name_ as string));
    return true;
  }

  /** Remove edges (by the id `edgesAmong` gives them). */
  disconnect(edgeIds: string[]): void {
    const levels = [...new Set(edgeIds.map(id => parentOf(id.split('#')[0])))];
    const edges = ([] as IEdgeRef[])
      .concat(...levels.map(parentId => this.edges(parentId)))
      .filter(edge => edgeIds.includes(edge.id));
    if (edges.length) {
      this._edit(() => edges.forEach(edge => this._unplug(edge.target, edge.targetPort)));
    }
  }

  moveNodes(moves: { id: string; position: IXY }[]): void {
    const real = moves.filter(m => {
      const p = this._positions.get(m.id);
      return this.node(m.id) && (!p || p.x !== m.position.x || p.y !== m.position.y);
    });
    if (real.length) {
      this._edit(() => real.forEach(m => this._place(m.id, m.position)));
    }
  }

  /** Lay the top level (and every composite's children) out again, automatically. */
  relayout(): void {
    this._edit(() => {
      const levels: [INodeJSON, string | null][] = [[this._graph, null]];
      for (const { id, node } of walk(this._graph)) {
        if (isComposite(node)) {
          levels.push([node, id]);
        }
      }
      for (const [parent, parentId] of levels) {
        autoLayout(parent, parentId).forEach((p, id) => this._place(id, p));
      }
    });
  }

  undo(): void {
    this._travel(this._undo, this._redo, 'undo');
  }

  redo(): void {
    this._travel(this._redo, this._undo, 'redo');
  }

  // -- internals ---------------------------------------------------------------------------------------

  private _edit(change: () => void, mergeKey?: string): void {
    const now = Date.now();
    const last = this._undo[this._undo.length - 1];
    const merges =
      mergeKey !== undefined && last?.mergeKey === mergeKey && now - last.at < MERGE_WINDOW_MS && !this._redo.length;
    if (merges) {
      last.at = now;
    } else {
      this._undo.push({ ...this._snapshot(), mergeKey, at: now });
      if (this._undo.length > HISTORY_LIMIT) {
        this._undo.shift();
      }
    }
    this._redo = [];
    change();
    this._version = ++this._counter;
    this._changed.emit('edit');
  }

  private _travel(from: ISnapshot[], to: ISnapshot[], change: GraphChange): void {
    const snapshot = from.pop();
    if (!snapshot) {
      return;
    }
    to.push({ ...this._snapshot(), at: 0 });
    this._graph = JSON.parse(snapshot.json);
    this._positions = new Map(snapshot.positions);
    this._version = snapshot.version;
    this._changed.emit(change);
  }

  private _snapshot(): Omit<ISnapshot, 'at'> {
    return {
      json: JSON.stringify(this._graph),
      positions: [...this._positions.entries()],
      version: this._version
    };
  }

  private _place(id: string, position: IXY): void {
    const p = { x: Math.round(position.x * 10) / 10, y: Math.round(position.y * 10) / 10 };
    this._positions.set(id, p);
    storePosition(this._graph, id, p);
  }

  private _plug(node: INodeJSON, index: number, name: string): void {
    const port = ports(node, 'inputs_')[index];
    this._renameInside(node, port.name_, name);
    port.name_ = name;
  }

  /** Leave an input unconnected: no name (a composite keeps a name of its own, which its children read). */
  private _unplug(id: string, index: number): void {
    const node = this.node(id);
    if (node && ports(node, 'inputs_')[index]) {
      this._plug(node, index, isComposite(node) ? `${node.name_}@input_${index}` : '');
    }
  }

  /** A composite node's children read its inputs and write its outputs under the same names. */
  private _renameInside(node: INodeJSON, from: string | undefined, to: string): void {
    if (!from || from === to || !isComposite(node)) {
      return;
    }
    for (const { node: inner } of walk(node)) {
      for (const port of [...ports(inner, 'inputs_'), ...ports(inner, 'outputs_')]) {
        if (port.name_ === from) {
          port.name_ = to;
        }
      }
    }
  }

  private _freeName(base: string): string {
    const taken = new Set([...walk(this._graph)].map(({ node }) => node.name_));
    let n = 1;
    while (taken.has(`${base}_${n}`)) {
      n++;
    }
    return `${base}_${n}`;
  }

  private _graph: IGraphJSON;
  private _positions: Map<string, IXY>;
  private _undo: ISnapshot[] = [];
  private _redo: ISnapshot[] = [];
  private _counter = 0;
  private _version = 0;
  private _savedVersion = 0;
  private _changed = new Signal<this, GraphChange>(this);
}
