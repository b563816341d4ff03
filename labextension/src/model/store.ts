/**
 * The one event store of the page: what the server has (its workers, workflows, templates, files, tasks), kept
 * current by the one WebSocket. Every view (the panel's sections, the graph document, the notifications)
 * reads it and subscribes to it; none talks to the socket.
 *
 * `changed` fires at most once per animation frame however many events came (200 tasks/s of progress must not
 * mean 200 renders/s), with the parts that changed: a view redraws only for the parts it shows (a flood of task
 * events leaves the templates, workflows and resources alone). `taskEnded` fires once per task that ends while
 * the page watches, for notifications.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, describeError, NndeployClient } from '../api/client';
import { ConnectionState, EventStream, ServerEvent } from '../api/events';
import type {
  FileNode,
  OutputFile,
  ServerInfo,
  TaskRecord,
  TaskState,
  TemplateSummary,
  TimeProfile,
  WorkflowSummary
} from '../api/schema';

export const FINAL_STATES: ReadonlySet<TaskState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED']);
const IN_FLIGHT_ORDER: Record<string, number> = { RUNNING: 0, DISPATCHED: 1, PENDING: 2 };
const HISTORY_ITEMS = 1000;
const TASKS_WITH_EVENTS = 200; // tasks whose events are kept for their log and the graph's run view
const EVENTS_PER_TASK = 2000;

export interface INodeProgress {
  status: string;
  done?: number;
  total?: number;
  /** ms: init time while INITED, then the average time per run. */
  time?: number;
}

/** One task as the views show it. */
export interface ITask {
  id: string;
  name: string;
  state: TaskState;
  priority: number;
  source: string | null;
  batchId: string | null;
  /** Epoch seconds. */
  submitted: number;
  started: number | null;
  finished: number | null;
  error: string | null;
  cancelRequested: boolean;
  done: number;
  total: number;
  nodes: Record<string, INodeProgress>;
  timeProfile: TimeProfile | null;
  outputs: OutputFile[];
  values: Record<string, string>;
  /** The seq of the last event that changed it: older (replayed) events leave it alone. */
  seq: number;
}

export type TaskListener = (event: ServerEvent) => void;

/** What a change of the store is about; `server` also covers the connection and the reasons it cannot load. */
export type StorePart = 'server' | 'workflows' | 'templates' | 'files' | 'tasks';
const ALL_PARTS: readonly StorePart[] = ['server', 'workflows', 'templates', 'files', 'tasks'];

export class NndeployStore {
  constructor(readonly client: NndeployClient = new NndeployClient()) {
    this.events = new EventStream(client.settings);
    this.events.received.connect((_, event) => this._apply(event));
    this.events.stateChanged.connect((_, state) => this._connectionChanged(state));
  }

  readonly events: EventStream;

  get changed(): ISignal<this, ReadonlySet<StorePart>> {
    return this._changed;
  }

  /** Call `update` (at most once a frame) when one of `parts` changed; returns the disconnection. */
  watch(parts: readonly StorePart[], update: () => void): () => void {
    const slot = (_: this, changed: ReadonlySet<StorePart>): void => {
      if (parts.some(part => changed.has(part))) {
        update();
      }
    };
    this._changed.connect(slot);
    return () => this._changed.disconnect(slot);
  }

  get taskEnded(): ISignal<this, ITask> {
    return this._taskEnded;
  }

  /** Why the server extension cannot be used (missing, older, unreachable), in words; null when it answers. */
  get error(): string | null {
    return this._errors.values().next().value ?? null;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get connection(): ConnectionState {
    return this.events.state;
  }

  get server(): ServerInfo | null {
    return this._server;
  }

  get workflows(): readonly WorkflowSummary[] {
    return this._workflows;
  }

  get templates(): readonly TemplateSummary[] {
    return this._templates;
  }

  get files(): readonly FileNode[] {
    return this._files;
  }

  task(id: string): ITask | undefined {
    return this._tasks.get(id);
  }

  /** Tasks in flight, in the order they run: running, dispatched, then pending by priority. */
  get queue(): readonly ITask[] {
    this._sort();
    return this._queue;
  }

  /** Ended tasks, newest first. */
  get history(): readonly ITask[] {
    this._sort();
    return this._history;
  }

  /** The log lines of a task, in order; asks the server for the ones it still buffers the first time. */
  log(id: string): string[] {
    if (!this._replayed.has(id)) {
      this._replayed.add(id);
      this.events.followTask(id);
    }
    return (this._events.get(id) ?? []).filter(e => e.type === 'log').map(e => (e as { log: string }).log);
  }

  /** Follow one task's events: those already seen first, then live ones. Returns the unsubscribe. */
  followTask(id: string, listener: TaskListener): () => void {
    for (const event of this._events.get(id) ?? []) {
      listener(event);
    }
    const listeners = this._listeners.get(id) ?? new Set<TaskListener>();
    listeners.add(listener);
    this._listeners.set(id, listeners);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) {
        this._listeners.delete(id);
      }
    };
  }

  /** Connect the socket and load everything; later calls reload. */
  async start(): Promise<void> {
    this.events.start();
    await this.refresh();
  }

  async refresh(): Promise<void> {
    await Promise.all([
      this.refreshServer(),
      this.refreshWorkflows(),
      this.refreshTemplates(),
      this.refreshTasks(),
      this.refreshFiles()
    ]);
    this._loaded = true;
    this._touch(...ALL_PARTS);
  }

  refreshServer(): Promise<void> {
    return this._load('server', async () => {
      try {
        this._server = await this.client.server();
      } catch (error) {
        throw error instanceof ApiError && error.status === 404 ? new OlderServer() : error;
      }
    });
  }

  refreshWorkflows(): Promise<void> {
    return this._load('workflows', async () => (this._workflows = await this.client.workflows()));
  }

  refreshTemplates(): Promise<void> {
    return this._load('templates', async () => (this._templates = await this.client.templates()));
  }

  refreshFiles(): Promise<void> {
    return this._load('files', async () => (this._files = await this.client.files()));
  }

  /** The queue and the history as the server has them (after a reconnection: what ended meanwhile). */
  refreshTasks(): Promise<void> {
    return this._load('tasks', async () => {
      const [info, history] = await Promise.all([this.client.queueInfo(), this.client.history(HISTORY_ITEMS)]);
      for (const record of [...info.running, ...info.dispatched, ...info.pending, ...history.items]) {
        this._record(record);
      }
      this._sorted = false;
    });
  }

  /** A record the server answered (e.g. to a cancel) is newer than what the views show. */
  update(record: TaskRecord): void {
    this._record(record);
    this._sorted = false;
    this._touch('tasks');
  }

  dispose(): void {
    this.events.dispose();
    Signal.clearData(this);
  }

  // -- loading ------------------------------------------------------------------------------------

  /** Load one part; a failure to reach the extension at all is what the header says, per part. */
  private async _load(part: StorePart, load: () => Promise<unknown>): Promise<void> {
    try {
      await load();
      this._errors.delete(part);
    } catch (error) {
      if (error instanceof ApiError) {
        console.warn(`nndeploy: cannot load the ${part}:`, error.message); // the extension answers: a passing refusal
      } else {
        this._errors.set(part, describeError(error));
      }
    }
    this._touch(part, 'server'); // the header says why a part cannot load
  }

  private _connectionChanged(state: ConnectionState): void {
    if (state === 'open' && this._wasOpen) {
      void this.refreshTasks(); // tasks that ended while the socket was down
      void this.refreshServer();
    }
    this._wasOpen ||= state === 'open';
    this._touch('server');
  }

  private _record(record: TaskRecord): void {
    const known = this._tasks.get(record.task_id);
    const task: ITask = {
      id: record.task_id,
      name: record.name,
      state: record.state,
      priority: record.priority,
      source: record.source,
      batchId: ((record as { batch_id?: string | null }).batch_id ?? null) as string | null,
      submitted: record.ts_submit,
      started: record.ts_start,
      finished: record.ts_finish,
      error: record.error,
      cancelRequested: record.cancel_requested,
      done: known?.done ?? 0,
      total: known?.total ?? 0,
      nodes: known?.nodes ?? {},
      timeProfile: record.time_profile,
      outputs: record.outputs,
      values: record.values,
      seq: known?.seq ?? 0
    };
    if (known && FINAL_STATES.has(known.state) && !FINAL_STATES.has(task.state)) {
      return; // an answer older than the end the socket already told
    }
    this._tasks.set(task.id, task);
  }

  // -- events -------------------------------------------------------------------------------------

  private _apply(event: ServerEvent): void {
    if (event.type === 'system') {
      this._system(event.event, event.detail);
      this._touch('server');
    } else if (event.task_id && event.type !== 'error') {
      this._keep(event.task_id, event);
      if (this._task(event)) {
        this._sorted = false;
      }
      for (const listener of this._listeners.get(event.task_id) ?? []) {
        listener(event);
      }
      this._touch('tasks');
    }
  }

  /** Apply a task's event to its `ITask`; whether its place in the lists may have changed. */
  private _task(event: ServerEvent & { task_id: string }): boolean {
    let task = this._tasks.get(event.task_id);
    if (task && event.seq <= task.seq) {
      return false; // replayed: the task is already past it
    }
    if (!task) {
      if (event.type !== 'status') {
        return false; // known once its status comes (the history reload brings the rest)
      }
      task = newTask(event.task_id, event.name, event.state, event.ts);
      this._tasks.set(task.id, task);
    }
    const wasFinal = FINAL_STATES.has(task.state);
    task.seq = event.seq;
    switch (event.type) {
      case 'status':
        task.state = event.state;
        task.name = event.name || task.name;
        task.priority = event.priority ?? task.priority;
        task.error = event.error ?? null;
        task.cancelRequested = event.cancel_requested;
        if (event.state === 'RUNNING') {
          task.started ??= event.ts;
        }
        break;
      case 'progress':
        progress(task, event);
        return false;
      case 'memory':
        task.values = event.content;
        return false;
      case 'task_run_info':
        task.state = event.state;
        task.error = event.error ?? null;
        task.timeProfile = event.time_profile;
        task.outputs = event.outputs;
        task.finished = event.ts;
        break;
      default:
        return false;
    }
    if (FINAL_STATES.has(task.state) && !wasFinal) {
      task.finished ??= event.ts;
    }
    if (event.type === 'task_run_info') {
      this._taskEnded.emit(task); // its last event (after the final status): outputs and reason are known
    }
    return true;
  }

  private _system(name: string, detail: Record<string, unknown>): void {
    if (name === 'workers' && this._server) {
      this._server = {
        ...this._server,
        workers: detail.workers as ServerInfo['workers'],
        unavailable: (detail.unavailable as string | null) ?? null
      };
    } else if (name === 'executor_failed' && this._server) {
      this._server = { ...this._server, unavailable: String(detail.error ?? 'the executor did not start') };
    }
  }

  /** Keep a task's events (in seq order, once each) for its log and for views that follow it later. */
  private _keep(id: string, event: ServerEvent): void {
    let kept = this._events.get(id);
    if (!kept) {
      kept = [];
      this._events.set(id, kept);
      for (const old of this._events.keys()) {
        if (this._events.size <= TASKS_WITH_EVENTS) {
          break;
        }
        this._events.delete(old);
        this._replayed.delete(old);
      }
    }
    const last = kept[kept.length - 1];
    if (!last || last.seq < event.seq) {
      kept.push(event);
    } else if (!kept.some(e => e.seq === event.seq)) {
      kept.splice(kept.findIndex(e => e.seq > event.seq), 0, event); // a replayed older event
    }
    if (kept.length > EVENTS_PER_TASK) {
      kept.splice(0, kept.length - EVENTS_PER_TASK);
    }
  }

  // -- views --------------------------------------------------------------------------------------

  private _sort(): void {
    if (this._sorted) {
      return;
    }
    const queue: ITask[] = [];
    const history: ITask[] = [];
    for (const task of this._tasks.values()) {
      (FINAL_STATES.has(task.state) ? history : queue).push(task);
    }
    queue.sort(
      (a, b) =>
        IN_FLIGHT_ORDER[a.state] - IN_FLIGHT_ORDER[b.state] || a.priority - b.priority || a.submitted - b.submitted
    );
    history.sort((a, b) => (b.finished ?? b.submitted) - (a.finished ?? a.submitted));
    if (history.length > HISTORY_ITEMS) {
      for (const old of history.splice(HISTORY_ITEMS)) {
        this._tasks.delete(old.id);
      }
    }
    this._queue = queue;
    this._history = history;
    this._sorted = true;
  }

  /** Something changed: one `changed` in the next animation frame, however many come before it. */
  private _touch(...parts: StorePart[]): void {
    parts.forEach(part => this._pending.add(part));
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => {
        const changed = this._pending;
        this._frame = 0;
        this._pending = new Set();
        this._changed.emit(changed);
      });
    }
  }

  private _server: ServerInfo | null = null;
  private _workflows: WorkflowSummary[] = [];
  private _templates: TemplateSummary[] = [];
  private _files: FileNode[] = [];
  private _tasks = new Map<string, ITask>();
  private _queue: ITask[] = [];
  private _history: ITask[] = [];
  private _sorted = false;
  private _events = new Map<string, ServerEvent[]>();
  private _replayed = new Set<string>();
  private _listeners = new Map<string, Set<TaskListener>>();
  private _errors = new Map<string, string>();
  private _loaded = false;
  private _wasOpen = false;
  private _frame = 0;
  private _pending = new Set<StorePart>();
  private _changed = new Signal<this, ReadonlySet<StorePart>>(this);
  private _taskEnded = new Signal<this, ITask>(this);
}


/** The extension answers, but has no `GET server`: it predates this panel. */
class OlderServer extends Error {
  constructor() {
    super(
      'The nndeploy server extension answering is older than this panel (it has no nndeploy/api/server). ' +
        'Upgrade the Python package nndeploy-jupyter to the version of the panel, then restart Jupyter.'
    );
  }
}

function newTask(id: string, name: string, state: TaskState, ts: number): ITask {
  return {
    id,
    name,
    state,
    priority: 100,
    source: null,
    batchId: null,
    submitted: ts,
    started: null,
    finished: null,
    error: null,
    cancelRequested: false,
    done: 0,
    total: 0,
    nodes: {},
    timeProfile: null,
    outputs: [],
    values: {},
    seq: 0
  };
}

function progress(task: ITask, event: ServerEvent & { type: 'progress' }): void {
  task.done = event.done;
  task.total = event.total;
  const nodes = { ...task.nodes };
  for (const [name, info] of Object.entries(event.detail ?? {})) {
    nodes[name] = { ...nodes[name], status: info.status, time: info.time >= 0 ? info.time : nodes[name]?.time };
  }
  for (const [name, info] of Object.entries(event.nodes ?? {})) {
    nodes[name] = { ...nodes[name], status: info.status, done: info.done, total: info.total };
  }
  task.nodes = nodes;
}

/** Seconds as a user reads them: `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
}
