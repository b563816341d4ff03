/**
 * The one WebSocket of the page on `ws/progress`, bound to `"*"`: every task's events and the server's own.
 *
 * It reconnects by itself (1 s, growing to 10 s), and then binds again: `"*"` brings a snapshot of every task
 * not yet ended, and `followTask()` asks for a task's buffered events again, after the last seq seen, so what
 * happened while the socket was down is not lost. The store (`model/store.ts`) is its only listener.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type { EventEnvelope } from './schema';

export type ServerEvent = EventEnvelope['result'];
export type ConnectionState = 'connecting' | 'open' | 'closed';

const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 10_000;

export class EventStream {
  constructor(private readonly settings: ServerConnection.ISettings) {}

  /** Each event, in the order the server sent them. */
  get received(): ISignal<this, ServerEvent> {
    return this._received;
  }

  /** `open` after every (re)connection: the listener reloads what a snapshot does not bring back. */
  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The last `seq` seen, across reconnections (seqs grow across server restarts too). */
  get lastSeq(): number {
    return this._lastSeq;
  }

  start(): void {
    if (!this._socket && !this._disposed) {
      this._connect();
    }
  }

  /** Replay a task's events the server still buffers (after `since`), then keep following it. */
  followTask(taskId: string, since = 0): void {
    this._followed.set(taskId, Math.max(since, this._followed.get(taskId) ?? 0));
    this._send({ type: 'bind', task_id: taskId, since });
  }

  dispose(): void {
    this._disposed = true;
    this._socket?.close();
    Signal.clearData(this);
  }

  private _connect(): void {
    let url = URLExt.join(this.settings.wsUrl, 'nndeploy', 'api', 'ws', 'progress');
    if (this.settings.token) {
      url += `?token=${encodeURIComponent(this.settings.token)}`;
    }
    this._setState('connecting');
    const socket = new this.settings.WebSocket(url);
    socket.onopen = () => {
      this._retryMs = FIRST_RETRY_MS;
      socket.send(JSON.stringify({ type: 'bind', task_id: '*' }));
      for (const [taskId] of this._followed) {
        socket.send(JSON.stringify({ type: 'bind', task_id: taskId, since: this._lastSeq }));
      }
      this._setState('open');
    };
    socket.onmessage = message => this._dispatch(message.data);
    socket.onclose = () => {
      this._socket = null;
      this._setState('closed');
      if (!this._disposed) {
        setTimeout(() => this._socket ?? this._connect(), this._retryMs);
        this._retryMs = Math.min(this._retryMs * 2, LAST_RETRY_MS);
      }
    };
    this._socket = socket;
  }

  private _send(frame: Record<string, unknown>): void {
    if (this._socket?.readyState === WebSocket.OPEN) {
      this._socket.send(JSON.stringify(frame));
    } // otherwise `onopen` binds every followed task
  }

  private _dispatch(data: unknown): void {
    let event: ServerEvent | undefined;
    try {
      event = (JSON.parse(String(data)) as EventEnvelope).result;
    } catch {
      return;
    }
    if (!event || typeof event.type !== 'string') {
      return;
    }
    this._lastSeq = Math.max(this._lastSeq, event.seq ?? 0);
    this._received.emit(event);
  }

  private _setState(state: ConnectionState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _socket: WebSocket | null = null;
  private _state: ConnectionState = 'closed';
  private _disposed = false;
  private _retryMs = FIRST_RETRY_MS;
  private _lastSeq = 0;
  private _followed = new Map<string, number>();
  private _received = new Signal<this, ServerEvent>(this);
  private _stateChanged = new Signal<this, ConnectionState>(this);
}
