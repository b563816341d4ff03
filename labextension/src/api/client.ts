/**
 * The one HTTP client of the server extension (`{base_url}nndeploy/api/...`), shared by the panel, the graph
 * document and the commands.
 *
 * Requests go through `ServerConnection`, so the base URL, the token and the XSRF header are the ones JupyterLab
 * itself uses, also under JupyterHub. Answers are nndeploy's envelope `{flag, message, result}`; types come from
 * the server's models (`schema.ts`, generated).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  FileInfo,
  FileNode,
  Flushed,
  History,
  QueueInfo,
  QueueRequest,
  ServerInfo,
  TaskCreated,
  TaskRecord,
  TemplateSummary,
  WorkflowSummary,
  WorkflowUploaded
} from './schema';

/** An nndeploy graph as JSON (`name_`, `node_repository_`, ...): the server keeps every field. */
export type GraphJSON = { name_: string; [key: string]: unknown };

/**
 * The server answered, but not with nndeploy's envelope (an HTML 404 page, Jupyter's own JSON error): the
 * `nndeploy_jupyter` server extension is not installed or not enabled.
 */
export class ServerExtensionMissing extends Error {
  constructor(readonly status: number) {
    super(
      'The nndeploy server extension is not answering ' +
        `(HTTP ${status} from nndeploy/api). Install the Python package nndeploy-jupyter, ` +
        'check that `jupyter server extension list` shows nndeploy_jupyter enabled, then restart Jupyter.'
    );
  }
}

/** A refused request, with the server's reason in words (`{"flag": "error", "message": ...}`). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** The reason a call failed, in words a user can act on. */
export function describeError(error: unknown): string {
  if (error instanceof ServerExtensionMissing || error instanceof ApiError) {
    return error.message;
  }
  if (error instanceof ServerConnection.NetworkError) {
    return `Cannot reach the Jupyter server: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export class NndeployClient {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  url(path: string): string {
    return URLExt.join(this.settings.baseUrl, 'nndeploy', 'api', path);
  }

  /** One API call: the envelope's `result`, or an `ApiError` with the server's reason. */
  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await ServerConnection.makeRequest(this.url(path), init, this.settings);
    return unwrap<T>(response.status, response.ok, await response.text());
  }

  private post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>(path, { method: 'POST', body: body === undefined ? '' : JSON.stringify(body) });
  }

  // -- the server ---------------------------------------------------------------------------------

  server(): Promise<ServerInfo> {
    return this.request('server');
  }

  resourcesDir(): Promise<string> {
    return this.request('resources');
  }

  // -- workflows and templates --------------------------------------------------------------------

  workflows(): Promise<WorkflowSummary[]> {
    return this.request('workflows');
  }

  workflow(id: string): Promise<GraphJSON> {
    return this.request(`workflow/${encodeURIComponent(id)}`);
  }

  /** `workflow/save`: no id creates a workflow (its name made unique by the server); returns its id. */
  async saveWorkflow(graph: GraphJSON, id?: string): Promise<string> {
    const saved = await this.post<{ id: string }>('workflow/save', id ? { id, businessContent: graph } : { businessContent: graph });
    return saved.id;
  }

  deleteWorkflow(id: string): Promise<unknown> {
    return this.post(`workflow/delete/${encodeURIComponent(id)}`);
  }

  /** The workflow's JSON file, as `workflow/download` serves it. */
  async downloadWorkflow(id: string): Promise<Blob> {
    const response = await ServerConnection.makeRequest(
      this.url(`workflow/download/${encodeURIComponent(id)}`),
      {},
      this.settings
    );
    if (!response.ok) {
      unwrap(response.status, false, await response.text());
    }
    return response.blob();
  }

  uploadWorkflow(file: File, onProgress?: (fraction: number) => void): Promise<WorkflowUploaded> {
    return this.upload('workflow/upload', file, onProgress);
  }

  templates(): Promise<TemplateSummary[]> {
    return this.request('template');
  }

  template(id: string): Promise<GraphJSON> {
    return this.request(`template/${encodeURIComponent(id)}`);
  }

  // -- the node catalogue (asked once: it changes only when plugins do) ----------------------------

  dagInfo<T>(): Promise<T> {
    this._dag ??= this.request<unknown>('dag/info');
    this._dag.catch(() => (this._dag = undefined));
    return this._dag as Promise<T>;
  }

  paramTypes(): Promise<Record<string, string[]>> {
    this._types ??= this.request<Record<string, string[]>>('param/types');
    this._types.catch(() => (this._types = undefined));
    return this._types;
  }

  // -- tasks --------------------------------------------------------------------------------------

  submit(request: Partial<QueueRequest>): Promise<TaskCreated> {
    return this.post('queue', request);
  }

  task(id: string): Promise<TaskRecord> {
    return this.request(`queue/${encodeURIComponent(id)}`);
  }

  queueInfo(): Promise<QueueInfo> {
    return this.request('queue/info');
  }

  history(maxItems = 1000): Promise<History> {
    return this.request(`queue/history?max_items=${maxItems}`);
  }

  cancel(id: string): Promise<TaskRecord> {
    return this.post(`queue/cancel/${encodeURIComponent(id)}`);
  }

  flush(): Promise<Flushed> {
    return this.post('queue/flush');
  }

  // -- files of resources/ ------------------------------------------------------------------------

  files(): Promise<FileNode[]> {
    return this.request('files');
  }

  /** Upload into a folder of `resources/` (`resources/images`), with the bytes sent reported as they go. */
  uploadFile(folder: string, file: File, onProgress?: (fraction: number) => void): Promise<FileInfo> {
    return this.upload(`files/upload?file_path=${encodeURIComponent(folder)}`, file, onProgress);
  }

  deleteFile(path: string): Promise<unknown> {
    return this.post(`files/delete?file_path=${encodeURIComponent(path)}`);
  }

  /** A URL the browser loads with JupyterLab's cookie: an `<img>`, a `<video>` (ranges) or a new tab. */
  previewUrl(path: string, kind: 'image' | 'video' | 'text' | 'binary' = 'binary'): string {
    return `${this.url('preview')}?file_path=${encodeURIComponent(path)}&returnMimeType=${kind}`;
  }

  /**
   * A multipart upload. `fetch` cannot report an upload's progress, so this one request is an
   * `XMLHttpRequest`, with the same token and XSRF header `ServerConnection` would send.
   */
  private upload<T>(path: string, file: File, onProgress?: (fraction: number) => void): Promise<T> {
    const form = new FormData();
    form.append('file', file, file.name);
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', this.url(path));
      for (const [name, value] of Object.entries(authHeaders(this.settings))) {
        xhr.setRequestHeader(name, value);
      }
      xhr.upload.onprogress = event => event.lengthComputable && onProgress?.(event.loaded / event.total);
      xhr.onerror = () => reject(new ServerConnection.NetworkError(new TypeError('the upload did not reach the server')));
      xhr.onload = () => {
        try {
          resolve(unwrap<T>(xhr.status, xhr.status >= 200 && xhr.status < 300, xhr.responseText));
        } catch (error) {
          reject(error);
        }
      };
      xhr.send(form);
    });
  }

  private _dag?: Promise<unknown>;
  private _types?: Promise<Record<string, string[]>>;
}

function unwrap<T>(status: number, ok: boolean, text: string): T {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (typeof body !== 'object' || body === null || !('flag' in body) || !('message' in body)) {
    throw new ServerExtensionMissing(status);
  }
  const envelope = body as { flag: string; message: string; result?: T };
  if (!ok || envelope.flag !== 'success') {
    throw new ApiError(envelope.message || `HTTP ${status}`, status);
  }
  return envelope.result as T;
}

function authHeaders(settings: ServerConnection.ISettings): Record<string, string> {
  const headers: Record<string, string> = {};
  if (settings.token) {
    headers.Authorization = `token ${settings.token}`;
  }
  const xsrf = document.cookie.match('\\b_xsrf=([^;]*)\\b');
  if (xsrf) {
    headers['X-XSRFToken'] = decodeURIComponent(xsrf[1]);
  }
  return headers;
}
