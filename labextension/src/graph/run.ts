/**
 * A run of the graph as its events tell it: the task's state, and per node its status (IDLE, INITING,
 * INITED, RUNNING, DONE), frames done of the total, time and the files it wrote.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IOutputFile, ITaskEvent } from './services';

export const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED']);

export interface INodeRun {
  status: string;
  done?: number;
  total?: number;
  /** ms: init time while INITED, average time per run after. */
  time?: number;
  outputs: IOutputFile[];
}

export class RunState {
  constructor(readonly taskId: string) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get state(): string {
    return this._state;
  }

  get error(): string | null {
    return this._error;
  }

  get ended(): boolean {
    return ENDED.has(this._state);
  }

  /** The run of a node, by its `name_` (progress names nested nodes by their own name). */
  node(name: string): INodeRun | undefined {
    return this._nodes.get(name);
  }

  /** Apply one event; returns whether anything shown changed. */
  apply(event: ITaskEvent): void {
    if (event.seq <= this._seq) {
      return; // replayed after a reconnect
    }
    this._seq = event.seq;
    if (event.type === 'status' && event.state) {
      this._state = event.state;
      this._error = event.error ?? null;
    } else if (event.type === 'progress') {
      this._progress(event);
    } else if (event.type === 'task_run_info') {
      if (event.state) {
        this._state = event.state;
        this._error = event.error ?? null;
      }
      for (const output of event.outputs ?? []) {
        this._run(output.node).outputs.push(output);
      }
    } else {
      return;
    }
    this._changed.emit();
  }

  private _progress(event: ITaskEvent): void {
    const detail = typeof event.detail === 'object' && event.detail ? event.detail : {};
    for (const [name, info] of Object.entries(detail)) {
      const run = this._run(name);
      run.status = info.status ?? run.status;
      run.time = typeof info.time === 'number' && info.time >= 0 ? info.time : run.time;
    }
    for (const [name, info] of Object.entries(event.nodes ?? {})) {
      const run = this._run(name);
      run.status = info.status ?? run.status;
      run.done = info.done;
      run.total = info.total;
    }
  }

  private _run(name: string): INodeRun {
    let run = this._nodes.get(name);
    if (!run) {
      run = { status: 'IDLE', outputs: [] };
      this._nodes.set(name, run);
    }
    return run;
  }

  private _state = 'PENDING';
  private _error: string | null = null;
  private _seq = -1;
  private _nodes = new Map<string, INodeRun>();
  private _changed = new Signal<this, void>(this);
}

/** The node a server validation error names: `node 'Canny' inside 'Group': …` gives `Group/Canny`. */
export function nodeNamedBy(message: string): string | null {
  const quoted = `(?:'((?:[^'\\\\]|\\\\.)*)'|"((?:[^"\\\\]|\\\\.)*)")`;
  const match = new RegExp(`node ${quoted}(?: inside ${quoted})?`).exec(message);
  if (!match) {
    return null;
  }
  const name = match[1] ?? match[2];
  const parent = match[3] ?? match[4];
  return parent ? `${parent}/${name}` : name;
}
