/**
 * A node card: name, type, one row per port (inputs on the left, outputs on the right), its live status,
 * and, after a run, thumbnails of the files it wrote. An expanded composite node is drawn as a group.
 */
import { Handle, NodeProps, Position, useStore, useUpdateNodeInternals } from '@xyflow/react';
import * as React from 'react';

import { PORT_ROW, PORTS_TOP } from '../layout';
import { INodeRun } from '../run';
import { GraphNode, INodeView, IPortView } from '../view';
import { useController } from './hooks';

/**
 * Below this zoom a card's words are a few pixels high: it is drawn as its box and ports only, which makes a
 * large graph (fitted into view, far below it) about half as costly to draw. Zooming in brings the words.
 */
const DETAIL_ZOOM = 0.4;

/** Memoised (as is `GroupNode`): React Flow redraws a node's wrapper whenever it measures it. */
export const CardNode = React.memo(function CardNode({ id, data }: NodeProps<GraphNode>): JSX.Element {
  useRemeasured(id, data.composite !== null);
  const far = useStore(s => s.transform[2] < DETAIL_ZOOM);
  if (far && !data.composite) { // a collapsed composite node keeps its Expand button, the way in by keyboard
    return (
      <div className={cardClass('jp-NndeployGraph-card', data)} data-node={data.name} data-status={data.run?.status} title={data.name}>
        <Ports data={data} handlesOnly />
        <NodeIssue data={data} />
      </div>
    );
  }
  return (
    <div className={cardClass('jp-NndeployGraph-card', data)} data-node={data.name} data-status={data.run?.status}>
      <NodeHeader id={id} data={data} />
      <div className="jp-NndeployGraph-key" title={data.key}>
        {shortKey(data.key)}
      </div>
      <Ports data={data} />
      <NodeFooter data={data} />
      <NodeIssue data={data} />
      {data.run?.outputs.length ? <Outputs name={data.name} run={data.run} /> : null}
    </div>
  );
});

export const GroupNode = React.memo(function GroupNode({ id, data }: NodeProps<GraphNode>): JSX.Element {
  useRemeasured(id, true);
  return (
    <div className={cardClass('jp-NndeployGraph-group', data)} data-node={data.name} data-status={data.run?.status}>
      <NodeHeader id={id} data={data} />
      <Ports data={data} handlesOnly />
      <NodeIssue data={data} />
    </div>
  );
});

/** A composite node switches between card and group: React Flow must measure its ports again. */
function useRemeasured(id: string, when: boolean): void {
  const update = useUpdateNodeInternals();
  React.useEffect(() => {
    if (when) {
      update(id);
    }
  }, [id, when]);
}

function NodeHeader({ id, data }: { id: string; data: INodeView }): JSX.Element {
  const controller = useController();
  const expanded = data.composite?.expanded;
  return (
    <div className="jp-NndeployGraph-header">
      <span className="jp-NndeployGraph-name" title={data.name}>
        {data.name}
      </span>
      {data.composite && (
        <button
          className="jp-NndeployGraph-iconButton nodrag"
          aria-label={`${expanded ? 'Collapse' : 'Expand'} group ${data.name}`}
          aria-expanded={expanded}
          title={`${expanded ? 'Collapse' : 'Expand'} the ${data.composite.children} nodes inside`}
          onClick={() => controller.toggleExpanded(id)}
        >
          {expanded ? '−' : `+${data.composite.children}`}
        </button>
      )}
      <button
        className="jp-NndeployGraph-iconButton nodrag"
        aria-label={`Delete node ${data.name}`}
        title="Delete this node (Delete)"
        onClick={() => controller.model.removeNodes([id])}
      >
        ×
      </button>
    </div>
  );
}

function Ports({ data, handlesOnly = false }: { data: INodeView; handlesOnly?: boolean }): JSX.Element {
  const rows = Math.max(data.inputs.length, data.outputs.length);
  return (
    <div className="jp-NndeployGraph-ports" style={{ height: handlesOnly ? 0 : rows * PORT_ROW }}>
      {data.inputs.map((port, i) => (
        <PortHandle key={`in-${i}`} side="in" index={i} port={port} node={data.name} label={!handlesOnly} />
      ))}
      {data.outputs.map((port, i) => (
        <PortHandle key={`out-${i}`} side="out" index={i} port={port} node={data.name} label={!handlesOnly} />
      ))}
    </div>
  );
}

function PortHandle(props: { side: 'in' | 'out'; index: number; port: IPortView; node: string; label: boolean }): JSX.Element {
  const { side, index, port, node } = props;
  const top = PORTS_TOP + index * PORT_ROW + PORT_ROW / 2;
  const title = `${side === 'in' ? 'Input' : 'Output'} ${port.label} (${port.type || 'any type'}) of ${node}`;
  return (
    <>
      <Handle
        id={`${side}-${index}`}
        type={side === 'in' ? 'target' : 'source'}
        position={side === 'in' ? Position.Left : Position.Right}
        style={{ top }}
        className={port.connected ? '' : 'jp-mod-unconnected'}
        aria-label={title}
        title={title}
      />
      {props.label && (
        <span className={`jp-NndeployGraph-port jp-mod-${side}`} style={{ top: top - PORT_ROW / 2 }}>
          {port.label}
        </span>
      )}
    </>
  );
}

function NodeIssue({ data }: { data: INodeView }): JSX.Element | null {
  return data.issue ? (
    <div role="alert" className="jp-NndeployGraph-nodeIssue">
      {data.issue}
    </div>
  ) : null;
}

function NodeFooter({ data }: { data: INodeView }): JSX.Element {
  const run = data.run;
  return (
    <div className="jp-NndeployGraph-footer" aria-live="polite">
      {!run && <span className="jp-NndeployGraph-role">{data.role}</span>}
      {run && (
        <span className="jp-NndeployGraph-status" aria-label={`${data.name} ${describeRun(run)}`}>
          {describeRun(run)}
        </span>
      )}
    </div>
  );
}

function Outputs({ name, run }: { name: string; run: INodeRun }): JSX.Element {
  const controller = useController();
  return (
    <div className="jp-NndeployGraph-outputs">
      {run.outputs.map(output => {
        const file = output.path.split('/').pop() ?? output.path;
        const image = /\.(png|jpe?g|gif|webp|bmp)$/i.test(file);
        return (
          <button
            key={output.path}
            className="jp-NndeployGraph-output nodrag"
            aria-label={`Open output ${file} of ${name}`}
            title={output.path}
            onClick={() => controller.host.openOutput(output.path)}
          >
            {image ? (
              <img src={`${controller.services.previewUrl(output.path)}&v=${run.outputs.length}-${controller.run?.taskId}`} alt={`Output ${file} of ${name}`} />
            ) : (
              <span>{file}</span>
            )}
          </button>
        );
      })}
    </div>
  );
}

export function describeRun(run: INodeRun): string {
  const parts = [run.status];
  if (run.total !== undefined && run.total > 0) {
    parts.push(`${run.done ?? 0}/${run.total}`);
  }
  if (run.time !== undefined) {
    parts.push(run.time >= 1000 ? `${(run.time / 1000).toFixed(2)} s` : `${run.time.toFixed(1)} ms`);
  }
  return parts.join(' · ');
}

function cardClass(base: string, data: INodeView): string {
  const status = data.run?.status?.toLowerCase();
  return [base, status ? `jp-mod-${status}` : '', data.issue ? 'jp-mod-issue' : ''].filter(Boolean).join(' ');
}

/** `nndeploy::codec::OpenCvImageDecode` reads as `codec · OpenCvImageDecode`. */
function shortKey(key: string): string {
  const parts = key.split(/::|\./).filter(p => p && p !== 'nndeploy');
  return parts.join(' · ');
}
