/**
 * A task's log in the main area, live: the lines its worker printed (Python and C++), as the socket brings
 * them; the ones from before the page opened are asked of the server once (it keeps a task's recent events).
 */
import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { listIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { NndeployStore } from './model/store';

class TaskLog extends ReactWidget {
  constructor(
    private readonly store: NndeployStore,
    private readonly taskId: string
  ) {
    super();
    this.addClass('jp-NndeployLog');
    this._unwatch = store.watch(['tasks'], () => this.update());
  }

  dispose(): void {
    this._unwatch();
    super.dispose();
  }

  private readonly _unwatch: () => void;

  render(): JSX.Element {
    const task = this.store.task(this.taskId);
    const lines = this.store.log(this.taskId);
    return (
      <div className="jp-NndeployLog-body">
        <p className="jp-NndeployLog-state">
          {task ? `${task.name}: ${task.state}` : this.taskId}
          {task?.error ? ` — ${task.error}` : ''}
        </p>
        <pre aria-label={`Log of task ${task?.name ?? this.taskId}`}>{lines.length ? lines.join('\n') : 'No log lines (yet).'}</pre>
      </div>
    );
  }
}

export function openTaskLog(store: NndeployStore, taskId: string, add: (widget: MainAreaWidget) => void): void {
  const task = store.task(taskId);
  const widget = new MainAreaWidget({ content: new TaskLog(store, taskId) });
  widget.id = `nndeploy-log:${taskId}`;
  widget.title.label = `Log: ${task?.name ?? taskId}`;
  widget.title.icon = listIcon;
  widget.title.closable = true;
  add(widget);
}
