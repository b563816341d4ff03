/**
 * What the graph document needs from the server, and nothing more. `adapter.ts` implements it over the
 * workbench's shared client and event store; tests or another host can give their own.
 */
import { IDisposable } from '@lumino/disposable';

import { IGraphJSON, INodeJSON } from './json';

export interface IWorkflowInfo {
  id: string;
  name_: string;
  filename?: string;
}

export interface ITemplateInfo {
  id: string;
  name_: string;
  desc_?: string | null;
  category_?: string | null;
}

/** One entry of `dag/info`'s node list: a category (`branch`) or a node type with its defaults (`leaf`). */
export interface ICatalogueEntry {
  id: string;
  name: string;
  desc?: string;
  parentId?: string;
  type: 'branch' | 'leaf';
  nodeEntity?: INodeJSON;
}

export interface IDagInfo {
  graph?: INodeJSON;
  nodes: ICatalogueEntry[];
  accepted_edge_types?: Record<string, string[]>;
}

/** `param/types`: each enum value mapped to all the values of its enum. */
export type ParamTypes = Record<string, string[]>;

export interface IOutputFile {
  node: string;
  path: string;
  size?: number;
}

/** A task event as the server sends it on `ws/progress` (the `result` of nndeploy's envelope). */
export interface ITaskEvent {
  type: string;
  task_id: string | null;
  seq: number;
  ts: number;
  state?: string;
  error?: string | null;
  snapshot?: boolean;
  done?: number;
  total?: number;
  detail?: Record<string, { time?: number; status?: string }> | string;
  nodes?: Record<string, { done?: number; total?: number; status?: string }>;
  outputs?: IOutputFile[];
  time_profile?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A failed request, with the server's reason (`{"flag": "error", "message": …}`). */
export class ServiceError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

export interface IGraphServices {
  getWorkflow(id: string): Promise<IGraphJSON>;
  getTemplate(id: string): Promise<IGraphJSON>;
  listWorkflows(): Promise<IWorkflowInfo[]>;
  listTemplates(): Promise<ITemplateInfo[]>;
  /** `workflow/save`: no id creates a workflow; returns its id. */
  saveWorkflow(graph: IGraphJSON, id?: string): Promise<string>;
  dagInfo(): Promise<IDagInfo>;
  paramTypes(): Promise<ParamTypes>;
  /** The absolute path of the workspace's `resources/` folder. */
  resourcesDir(): Promise<string>;
  /** Queue a graph as it is; a bad graph is a `ServiceError` (400) naming the node. Returns the task id. */
  submit(graph: IGraphJSON): Promise<string>;
  /** Follow a task's events (replayed from its start); dispose to stop. */
  taskEvents(taskId: string, listener: (event: ITaskEvent) => void): IDisposable;
  /** A URL the browser can load (cookie-authenticated) to show a file of `resources/`. */
  previewUrl(path: string): string;
}
