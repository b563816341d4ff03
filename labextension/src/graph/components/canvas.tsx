/**
 * The canvas (React Flow): drag to move, drag from an output to an input to connect, Delete to remove,
 * Escape to deselect. Positions are committed to the model when a drag ends, so one move is one undo step.
 */
import {
  applyNodeChanges,
  Background,
  Connection,
  Controls,
  Dimensions,
  Edge,
  getNodesBounds,
  getViewportForBounds,
  MiniMap,
  NodeChange,
  ReactFlow,
  useReactFlow,
  Viewport
} from '@xyflow/react';
import * as React from 'react';

import { graphView, GraphNode } from '../view';
import { Kept, withMeasured } from './kept';
import { CardNode, GroupNode } from './node';
import { useChanges, useController } from './hooks';

const NODE_TYPES = { card: CardNode, group: GroupNode };
const DELETE_KEYS = ['Delete', 'Backspace'];
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 2; // React Flow's own
const FIT_PADDING = 0.15;

export function Canvas(): JSX.Element {
  const controller = useController();
  useChanges(controller.changed);
  // Node data is re-derived only when what it shows changes (not on a selection or the catalogue's arrival).
  const { model, run, issue, expanded, selected } = controller;
  const shown = `${model.version}|${controller.runVersion}|${run?.taskId}|${issue?.nodeId}:${issue?.message}|${[...expanded]}`;
  const base = React.useMemo(() => graphView(model, { ...controller, selected: null }), [shown, model]);
  // What React Flow measured, by node id: a node object made afresh carries it, so React Flow keeps the
  // measured ports (and draws the node's edges) instead of measuring the node again.
  const measured = React.useRef(new Map<string, Dimensions>());
  // A node or edge that did not change keeps its object: React Flow redraws only the ones that changed.
  const kept = React.useRef(new Kept());
  const view = React.useMemo(() => kept.current.view(base, selected, measured.current), [base, selected]);
  const [nodes, setNodes] = React.useState<GraphNode[]>(view.nodes);
  React.useEffect(() => setNodes(view.nodes), [view]);
  useViewport();
  const [box, initialViewport] = useInitialViewport(view.nodes);

  const onNodesChange = React.useCallback((changes: NodeChange<GraphNode>[]) => {
    const applied = changes.filter(change => {
      if (change.type === 'dimensions' && change.dimensions) {
        measured.current.set(change.id, change.dimensions);
      }
      // React Flow already holds what it measured: handing it back would redraw every node once more.
      return change.type !== 'remove' && change.type !== 'dimensions';
    });
    if (applied.length) {
      setNodes(current =>
        applyNodeChanges(applied, current).map((node, i) => (node === current[i] ? node : withMeasured(node, measured.current)))
      );
    }
  }, []);
  const onDragStop = React.useCallback((_: unknown, __: GraphNode, dragged: GraphNode[]) => {
    controller.model.moveNodes(dragged.map(n => ({ id: n.id, position: n.position })));
  }, []);
  const onDelete = React.useCallback(({ nodes, edges }: { nodes: GraphNode[]; edges: Edge[] }) => {
    if (nodes.length) {
      controller.model.removeNodes(nodes.map(n => n.id));
    } else if (edges.length) {
      controller.model.disconnect(edges.map(e => e.id));
    }
  }, []);
  const onConnect = React.useCallback((c: Connection) => {
    controller.model.connect(c.source, portIndex(c.sourceHandle), c.target, portIndex(c.targetHandle));
  }, []);
  const canConnect = React.useCallback(
    (c: Connection | Edge) => controller.model.canConnect(c.source, c.target),
    []
  );
  const onSelection = React.useCallback(({ nodes }: { nodes: GraphNode[] }) => {
    controller.select(nodes.length === 1 ? nodes[0].id : null);
  }, []);

  return (
    <div
      ref={box}
      className="jp-NndeployGraph-canvas"
      tabIndex={-1} // a click on the pane focuses the canvas, where its keyboard shortcuts apply
      onKeyDown={event => {
        if (event.key === 'Escape') {
          controller.select(null);
          controller.setPalette(false);
        }
      }}
    >
      {initialViewport !== null && (
      <ReactFlow<GraphNode>
        nodes={nodes}
        edges={view.edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onNodeDragStop={onDragStop}
        onDelete={onDelete}
        onConnect={onConnect}
        isValidConnection={canConnect}
        onSelectionChange={onSelection}
        deleteKeyCode={DELETE_KEYS}
        minZoom={MIN_ZOOM}
        maxZoom={MAX_ZOOM}
        defaultViewport={initialViewport}
        fitView={initialViewport === undefined}
        fitViewOptions={{ padding: FIT_PADDING }}
        aria-label={`Graph ${controller.model.name}`}
      >
        <Background />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable ariaLabel={`Overview of ${controller.model.name}`} />
      </ReactFlow>
      )}
    </div>
  );
}

/**
 * The graph fitted into the canvas from the first frame: the nodes say their own sizes, so the view need not
 * wait for React Flow to measure them (and cards are first drawn at the zoom they are seen at, see `node.tsx`).
 * Undefined (React Flow fits once it has measured) when the canvas has no size yet; null until it is known.
 */
function useInitialViewport(nodes: GraphNode[]): [React.RefObject<HTMLDivElement>, Viewport | undefined | null] {
  const box = React.useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = React.useState<Viewport | undefined | null>(null);
  React.useLayoutEffect(() => {
    const { width = 0, height = 0 } = box.current?.getBoundingClientRect() ?? {};
    const top = nodes.filter(n => !n.parentId);
    const fits = width > 0 && height > 0 && top.length > 0;
    setViewport(fits ? getViewportForBounds(getNodesBounds(top), width, height, MIN_ZOOM, MAX_ZOOM, FIT_PADDING) : undefined);
  }, []);
  return [box, viewport];
}

/** Lets the controller ask where the middle of the view is, and have the view fitted to the graph. */
function useViewport(): void {
  const controller = useController();
  const flow = useReactFlow();
  React.useEffect(() => {
    controller.viewCenter = () => {
      const pane = document.querySelector(`#${CSS.escape(controller.domId)} .react-flow`);
      const box = pane?.getBoundingClientRect();
      return box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 }) : { x: 0, y: 0 };
    };
  }, [flow]);
  React.useEffect(() => {
    if (controller.fitRequest) {
      void flow.fitView({ padding: 0.15, duration: 200 });
    }
  }, [controller.fitRequest]);
}

function portIndex(handle: string | null | undefined): number {
  return Number((handle ?? '').split('-')[1] ?? 0);
}
