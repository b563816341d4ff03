/**
 * Saved workflows: Open as graph (Enter), Run, Run with parameters, and in the row's menu Duplicate, Rename,
 * Download, Delete; Upload a `.json` from the section's toolbar.
 */
import { ellipsesIcon, fileIcon, fileUploadIcon, runIcon, settingsIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import type { WorkflowSummary } from '../api/schema';
import { NndeployStore } from '../model/store';
import { CommandIDs } from '../tokens';
import { ActionButton, List, openRowMenu, Row, StoreSection } from './common';

export class WorkflowsSection extends StoreSection {
  constructor(
    store: NndeployStore,
    private readonly commands: CommandRegistry
  ) {
    super(store, 'Workflows', ['workflows']);
  }

  render(): JSX.Element {
    const commands = this.commands;
    return (
      <>
        <div className="jp-NndeployPanel-toolbar" role="toolbar" aria-label="Workflows toolbar">
          <ActionButton
            action={{ label: 'Upload a workflow (.json)', icon: fileUploadIcon, onClick: () => void commands.execute(CommandIDs.uploadWorkflow) }}
          />
        </div>
        <List
          label="Workflows"
          empty={this.store.loaded ? 'No saved workflows yet.' : 'Loading…'}
          items={this.store.workflows}
          row={w => <WorkflowRow key={w.id} workflow={w} commands={commands} />}
        />
      </>
    );
  }
}

const WorkflowRow = React.memo(function WorkflowRow(props: { workflow: WorkflowSummary; commands: CommandRegistry }) {
  const { workflow, commands } = props;
  const args = { workflowId: workflow.id };
  const name = workflow.name_;
  return (
    <Row
      kind="workflow"
      id={workflow.id}
      label={name}
      detail={workflow.desc_}
      onOpen={() => void commands.execute(CommandIDs.openGraph, args)}
      onDelete={() => void commands.execute(CommandIDs.deleteWorkflow, args)}
      actions={[
        { label: `Run ${name}`, icon: runIcon, onClick: () => void commands.execute(CommandIDs.run, args) },
        { label: `Run ${name} with parameters`, icon: settingsIcon, onClick: () => void commands.execute(CommandIDs.runWithParameters, args) },
        { label: `Open ${name} as a graph`, icon: fileIcon, onClick: () => void commands.execute(CommandIDs.openGraph, args) },
        { label: `More actions for ${name}`, icon: ellipsesIcon, onClick: () => openRowMenu(workflow.id) }
      ]}
    />
  );
});
