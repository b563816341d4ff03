/**
 * The graph editor: the canvas, the properties of the selected node, the catalogue to add nodes from, and
 * the run's and the server's words above them.
 */
import { ReactFlowProvider } from '@xyflow/react';
import * as React from 'react';

import { GraphController } from '../controller';
import { Canvas } from './canvas';
import { PropertiesPanel } from './form';
import { ControllerContext, useChanges } from './hooks';
import { Palette } from './palette';

export function GraphEditor({ controller }: { controller: GraphController }): JSX.Element {
  useChanges(controller.changed);
  return (
    <ControllerContext.Provider value={controller}>
      <div className="jp-NndeployGraph-editor" id={controller.domId}>
        {controller.host.banner && <div className="jp-NndeployGraph-banner">{controller.host.banner}</div>}
        {controller.issue && (
          <div role="alert" className="jp-NndeployGraph-issueBar">
            {controller.issue.message}
          </div>
        )}
        <RunSummary controller={controller} />
        <div className="jp-NndeployGraph-main">
          <ReactFlowProvider>
            <Canvas />
          </ReactFlowProvider>
          {controller.paletteOpen && <Palette />}
          <PropertiesPanel />
        </div>
      </div>
    </ControllerContext.Provider>
  );
}

function RunSummary({ controller }: { controller: GraphController }): JSX.Element | null {
  const run = controller.run;
  if (!run) {
    return null;
  }
  const state = run.state.toLowerCase();
  return (
    <div className={`jp-NndeployGraph-run jp-mod-${state}`} role="status" data-state={run.state}>
      Run {run.taskId.slice(0, 8)}: {run.state}
      {run.error ? ` — ${run.error}` : ''}
    </div>
  );
}
