/**
 * Tasks, live: the queue (running, dispatched, pending, in the order they run) and the history. Each row says
 * its state, priority, elapsed time and progress (frames done of the total); expanded, it shows each node's
 * progress and time and the time profile. Cancel, Show log, Show outputs; Flush the queue from the toolbar.
 * A failed task says why in words.
 */
import {
  caretDownIcon,
  caretRightIcon,
  clearIcon,
  ellipsesIcon,
  imageIcon,
  listIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { FINAL_STATES, formatSeconds, ITask, NndeployStore } from '../model/store';
import { CommandIDs } from '../tokens';
import { ActionButton, Group, IAction, List, openRowMenu, Row, StoreSection } from './common';

const DEFAULT_PRIORITY = 100;

export class TasksSection extends StoreSection {
  constructor(
    store: NndeployStore,
    private readonly commands: CommandRegistry
  ) {
    super(store, 'Tasks', ['tasks']);
  }

  /** Elapsed times of running tasks move on: one render a second while some run. */
  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._clock = window.setInterval(() => this.store.queue.some(t => t.state === 'RUNNING') && this.update(), 1000);
  }

  protected onBeforeDetach(msg: Message): void {
    window.clearInterval(this._clock);
    super.onBeforeDetach(msg);
  }

  render(): JSX.Element {
    const { queue, history } = this.store;
    const pending = queue.filter(t => t.state === 'PENDING').length;
    const now = Date.now() / 1000;
    return (
      <>
        <div className="jp-NndeployPanel-toolbar" role="toolbar" aria-label="Tasks toolbar">
          <span className="jp-NndeployPanel-summary">
            {queue.length ? `${queue.length - pending} running, ${pending} pending` : 'Nothing running'}
          </span>
          <ActionButton
            action={{
              label: `Flush the queue (cancel ${pending} pending ${pending === 1 ? 'task' : 'tasks'})`,
              icon: clearIcon,
              disabled: pending === 0,
              onClick: () => void this.commands.execute(CommandIDs.flushQueue)
            }}
          />
        </div>
        <Group label="Queue" count={queue.length}>
          <List
            label="Queue"
            empty="No task is queued or running."
            items={queue}
            row={t => <TaskRow key={t.id} task={t} seq={t.seq} now={t.state === 'RUNNING' ? now : 0} commands={this.commands} />}
          />
        </Group>
        <Group label="History" count={history.length}>
          <List
            label="History"
            empty="No task has ended yet."
            items={history}
            row={t => <TaskRow key={t.id} task={t} seq={t.seq} now={0} commands={this.commands} />}
          />
        </Group>
      </>
    );
  }

  private _clock = 0;
}

/** `seq` and `now` are props so the memo redraws a row when its task changed (tasks change in place). */
const TaskRow = React.memo(function TaskRow(props: { task: ITask; seq: number; now: number; commands: CommandRegistry }) {
  const { task, commands } = props;
  const [open, setOpen] = React.useState(false);
  const args = { taskId: task.id };
  const ended = FINAL_STATES.has(task.state);
  const actions: IAction[] = [
    { label: `${open ? 'Hide' : 'Show'} the details of task ${task.name}`, icon: open ? caretDownIcon : caretRightIcon, onClick: () => setOpen(!open) }
  ];
  if (!ended) {
    actions.push({
      label: `Cancel task ${task.name}`,
      icon: stopIcon,
      disabled: task.cancelRequested,
      onClick: () => void commands.execute(CommandIDs.cancelTask, args)
    });
  }
  if (task.outputs.length) {
    actions.push({ label: `Show the outputs of task ${task.name}`, icon: imageIcon, onClick: () => void commands.execute(CommandIDs.showOutputs, args) });
  }
  actions.push(
    { label: `Show the log of task ${task.name}`, icon: listIcon, onClick: () => void commands.execute(CommandIDs.showLog, args) },
    { label: `More actions for task ${task.name}`, icon: ellipsesIcon, onClick: () => openRowMenu(task.id) }
  );
  return (
    <Row
      kind="task"
      id={task.id}
      label={task.name}
      className={`jp-NndeployTask jp-mod-${task.state.toLowerCase()}`}
      icon={<span className={`jp-NndeployTask-state jp-mod-${task.state.toLowerCase()}`}>{stateLabel(task)}</span>}
      detail={<TaskDetail task={task} now={props.now} />}
      expanded={open}
      onOpen={() => (task.outputs.length ? void commands.execute(CommandIDs.showOutputs, args) : setOpen(!open))}
      actions={actions}
    >
      {task.total > 0 && !ended ? (
        <progress
          className="jp-NndeployTask-progress"
          value={task.done}
          max={task.total}
          aria-label={`Progress of task ${task.name}: ${task.done} of ${task.total}`}
        />
      ) : null}
      {open ? <TaskDetails task={task} /> : null}
    </Row>
  );
});

function stateLabel(task: ITask): string {
  return task.cancelRequested && !FINAL_STATES.has(task.state) ? 'CANCELLING' : task.state;
}

function TaskDetail({ task, now }: { task: ITask; now: number }): JSX.Element {
  const parts: string[] = [];
  if (task.priority !== DEFAULT_PRIORITY) {
    parts.push(`priority ${task.priority}`);
  }
  const start = task.started ?? task.submitted;
  if (task.finished) {
    parts.push(formatSeconds(Math.max(0, task.finished - start)));
  } else if (task.started && now) {
    parts.push(formatSeconds(Math.max(0, now - task.started)));
  }
  if (task.total > 0) {
    parts.push(`${task.done}/${task.total}`);
  }
  if (task.batchId) {
    parts.push(`batch ${task.batchId}`);
  }
  return (
    <>
      {parts.join(' · ')}
      {task.error && task.state !== 'SUCCEEDED' ? <span className="jp-NndeployTask-error">{task.error}</span> : null}
    </>
  );
}

/** Each node's progress and time, and the task's time profile. */
function TaskDetails({ task }: { task: ITask }): JSX.Element {
  const profile = task.timeProfile;
  const nodes = Object.entries(task.nodes);
  return (
    <div className="jp-NndeployTask-details">
      {nodes.length ? (
        <table className="jp-NndeployTask-nodes" aria-label={`Nodes of task ${task.name}`}>
          <thead>
            <tr>
              <th>Node</th>
              <th>Status</th>
              <th>Done</th>
              <th>Time</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map(([name, node]) => (
              <tr key={name} data-node={name}>
                <td>{name}</td>
                <td>{node.status}</td>
                <td>{node.total ? `${node.done ?? 0}/${node.total}` : ''}</td>
                <td>{node.time !== undefined ? `${node.time.toFixed(1)} ms` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {profile && (profile.init_time !== undefined || profile.run_time !== undefined) ? (
        <p className="jp-NndeployTask-profile" aria-label={`Time profile of task ${task.name}`}>
          {profile.init_time !== undefined && profile.init_time !== null ? `init ${profile.init_time.toFixed(1)} ms` : ''}
          {profile.run_time !== undefined && profile.run_time !== null ? ` · run ${profile.run_time.toFixed(1)} ms` : ''}
        </p>
      ) : null}
      {task.outputs.map(output => (
        <p key={output.path} className="jp-NndeployTask-output">
          {output.node}: {output.path}
          {output.partial ? ' (partial)' : ''}
        </p>
      ))}
      <p className="jp-NndeployTask-id">id {task.id}</p>
    </div>
  );
}
