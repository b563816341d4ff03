/**
 * `IGraphServices` over `ServerConnection` (base URL, token and XSRF as JupyterLab itself uses them) and one
 * WebSocket on `ws/progress`. Thin on purpose: it is to be pointed at the panel's shared client and event
 * store later.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { IGraphJSON } from './json';
import {
  IDagInfo,
  IGraphServices,
  ITaskEvent,
  ITemplateInfo,
  IWorkflowInfo,
  ParamTypes,
  ServiceError
} from './services';

type Listener = (event: ITaskEvent) => void;
const RECONNECT_MS = 1000;

export class ServerGraphServices implements IGraphServices {
  constructor(private readonly settings = ServerConnection.makeSettings()) {}

  getWorkflow(id: string): Promise<IGraphJSON> {
    return this._request(`workflow/${encodeURIComponent(id)}`);
  }

  getTemplate(id: string): Promise<IGraphJSON> {
    return this._request(`template/${encodeURIComponent(id)}`);
  }

  listWorkflows(): Promise<IWorkflowInfo[]> {
    return this._request('workflows');
  }

  listTemplates(): Promise<ITemplateInfo[]> {
    return this._request('template');
  }

  async saveWorkflow(graph: IGraphJSON, id?: string): Promise<string> {
    const body = JSON.stringify(id ? { id, businessContent: graph } : { businessContent: graph });
    const result = await this._request<{ id: string }>('workflow/save', { method: 'POST', body });
    return result.id;
  }

  dagInfo(): Promise<IDagInfo> {
    this._dag ??= this._request<IDagInfo>('dag/info');
    this._dag.catch(() => (this._dag = undefined));
    return this._dag;
  }

  paramTypes(): Promise<ParamTypes> {
    this._types ??= this._request<ParamTypes>('param/types');
    this._types.catch(() => (this._types = undefined));
    return this._types;
  }

  resourcesDir(): Promise<string> {
    return this._request('resources');
  }

  async submit(graph: IGraphJSON): Promise<string> {
    const body = JSON.stringify({ graph });
    const result = await this._request<{ task_id: string }>('queue', { method: 'POST', body });
    return result.task_id;
  }

  taskEvents(taskId: string, listener: Listener): IDisposable {
    const listeners = this._listeners.get(taskId) ?? new Set<Listener>();
    listeners.add(listener);
    this._listeners.set(taskId, listeners);
    this._send({ type: 'bind', task_id: taskId });
    return new DisposableDelegate(() => {
      listeners.delete(listener);
      if (listeners.size === 0) {
        this._listeners.delete(taskId);
        this._send({ type: 'unbind', task_id: taskId });
      }
    });
  }

  previewUrl(path: string): string {
    const url = URLExt.join(this.settings.baseUrl, 'nndeploy', 'api', 'preview');
    return `${url}?file_path=${encodeURIComponent(path)}`;
  }

  private async _request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'nndeploy', 'api', path);
    const response = await ServerConnection.makeRequest(url, init, this.settings);
    let body: { flag?: string; message?: string; result?: T } | null = null;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = null;
    }
    if (!body || typeof body !== 'object' || !('flag' in body)) {
      throw new ServiceError(`the nndeploy server extension is not answering (HTTP ${response.status})`, response.status);
    }
    if (!response.ok || body.flag !== 'success') {
      throw new ServiceError(body.message || `HTTP ${response.status}`, response.status);
    }
    return body.result as T;
  }

  private _send(frame: Record<string, unknown>): void {
    const socket = this._socket ?? this._connect();
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
    } // otherwise `onopen` binds every followed task
  }

  private _connect(): WebSocket {
    let url = URLExt.join(this.settings.wsUrl, 'nndeploy', 'api', 'ws', 'progress');
    if (this.settings.token) {
      url += `?token=${encodeURIComponent(this.settings.token)}`;
    }
    const socket = new this.settings.WebSocket(url);
    socket.onopen = () => {
      for (const taskId of this._listeners.keys()) {
        socket.send(JSON.stringify({ type: 'bind', task_id: taskId, since: this._seen.get(taskId) ?? 0 }));
      }
    };
    socket.onmessage = message => this._dispatch(message.data);
    socket.onclose = () => {
      this._socket = null;
      if (this._listeners.size) {
        setTimeout(() => this._socket ?? this._connect(), RECONNECT_MS);
      }
    };
    this._socket = socket;
    return socket;
  }

  private _dispatch(data: unknown): void {
    let event: ITaskEvent;
    try {
      event = JSON.parse(String(data)).result;
    } catch {
      return;
    }
    if (!event?.task_id) {
      return;
    }
    this._seen.set(event.task_id, Math.max(event.seq ?? 0, this._seen.get(event.task_id) ?? 0));
    for (const listener of this._listeners.get(event.task_id) ?? []) {
      listener(event);
    }
  }

  private _dag?: Promise<IDagInfo>;
  private _types?: Promise<ParamTypes>;
  private _socket: WebSocket | null = null;
  private _listeners = new Map<string, Set<Listener>>();
  private _seen = new Map<string, number>();
}
