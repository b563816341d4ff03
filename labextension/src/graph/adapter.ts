/**
 * `IGraphServices` over the workbench's shared client and event store: the graph asks the same client the
 * panel does, and a run's events come from the page's one WebSocket (the store keeps each task's events from
 * its start, so a run followed a moment after it was queued misses nothing).
 */
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { ApiError, NndeployClient, ServerExtensionMissing } from '../api/client';
import { NndeployStore } from '../model/store';
import { IGraphJSON } from './json';
import { IDagInfo, IGraphServices, ITaskEvent, ITemplateInfo, IWorkflowInfo, ParamTypes, ServiceError } from './services';

export class StoreGraphServices implements IGraphServices {
  constructor(private readonly store: NndeployStore) {
    this.client = store.client;
  }

  private readonly client: NndeployClient;

  getWorkflow(id: string): Promise<IGraphJSON> {
    return this._call(() => this.client.workflow(id) as Promise<IGraphJSON>);
  }

  getTemplate(id: string): Promise<IGraphJSON> {
    return this._call(() => this.client.template(id) as Promise<IGraphJSON>);
  }

  listWorkflows(): Promise<IWorkflowInfo[]> {
    return this._call(() => this.client.workflows());
  }

  listTemplates(): Promise<ITemplateInfo[]> {
    return this._call(() => this.client.templates());
  }

  async saveWorkflow(graph: IGraphJSON, id?: string): Promise<string> {
    const saved = await this._call(() => this.client.saveWorkflow(graph, id));
    void this.store.refreshWorkflows(); // the panel lists it at once
    return saved;
  }

  dagInfo(): Promise<IDagInfo> {
    return this._call(() => this.client.dagInfo<IDagInfo>());
  }

  paramTypes(): Promise<ParamTypes> {
    return this._call(() => this.client.paramTypes());
  }

  resourcesDir(): Promise<string> {
    return this._call(() => this.client.resourcesDir());
  }

  async submit(graph: IGraphJSON): Promise<string> {
    return (await this._call(() => this.client.submit({ graph }))).task_id;
  }

  taskEvents(taskId: string, listener: (event: ITaskEvent) => void): IDisposable {
    return new DisposableDelegate(this.store.followTask(taskId, event => listener(event as unknown as ITaskEvent)));
  }

  previewUrl(path: string): string {
    return this.client.previewUrl(path);
  }

  /** The graph's own error type, with the server's reason and status (a 400 names the node). */
  private async _call<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ApiError || error instanceof ServerExtensionMissing) {
        throw new ServiceError(error.message, error.status);
      }
      throw error;
    }
  }
}
