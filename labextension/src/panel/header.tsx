/**
 * The panel's header: which server extension answers and how its workers are (ready, busy, restarting,
 * crashed), whether the live connection is up; or, when the extension is missing or older than this panel,
 * that in words.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import type { WorkerInfo } from '../api/schema';
import { NndeployStore } from '../model/store';

export class PanelHeader extends ReactWidget {
  constructor(private readonly store: NndeployStore) {
    super();
    this.addClass('jp-NndeployPanel-header');
    this._unwatch = store.watch(['server'], () => this.update());
  }

  dispose(): void {
    this._unwatch();
    super.dispose();
  }

  private readonly _unwatch: () => void;

  render(): JSX.Element {
    const { store } = this;
    const server = store.server;
    return (
      <>
        <h2 className="jp-NndeployPanel-heading">
          nndeploy
          {server ? <span className="jp-NndeployPanel-version">v{server.version}</span> : null}
        </h2>
        {store.error ? (
          <div className="jp-NndeployPanel-status jp-mod-error" role="alert">
            {store.error}
          </div>
        ) : server ? (
          <div className="jp-NndeployPanel-status" role="status" aria-live="polite">
            <Workers workers={server.workers} max={server.max_workers} executor={server.executor} />
            {store.connection !== 'open' ? <span className="jp-NndeployPanel-offline"> · live updates reconnecting…</span> : null}
            {server.unavailable ? <div className="jp-NndeployPanel-unavailable">{server.unavailable}</div> : null}
          </div>
        ) : (
          <div className="jp-NndeployPanel-status">Connecting…</div>
        )}
      </>
    );
  }
}

function Workers(props: { workers: WorkerInfo[]; max: number; executor: string }): JSX.Element {
  const counts = new Map<string, number>();
  for (const worker of props.workers) {
    counts.set(worker.state, (counts.get(worker.state) ?? 0) + 1);
  }
  const words = [...counts].map(([state, n]) => `${n} ${state.toLowerCase()}`);
  const where = props.executor === 'LocalExecutor' ? '' : ` on ${props.executor.replace(/Executor$/, '')}`;
  return (
    <span className="jp-NndeployPanel-workers" title={props.workers.map(w => `${w.id}: ${w.state}${w.pid ? ` (pid ${w.pid})` : ''}`).join('\n')}>
      {props.workers.length ? `Workers${where}: ${words.join(', ')}` : `Workers${where}: ${props.max} (state unknown)`}
      {props.workers.map(w => (
        <span key={w.id} className={`jp-NndeployPanel-worker jp-mod-${w.state.toLowerCase()}`} aria-hidden="true" />
      ))}
    </span>
  );
}
