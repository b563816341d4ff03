import { Token } from '@lumino/coreutils';

import type { NndeployClient } from './api/client';
import type { WorkspacePaths } from './model/paths';
import type { NndeployStore } from './model/store';
import type { Uploads } from './model/uploads';
import type { Viewers } from './viewers';

/**
 * Command ids shared by the panel, the graph document, the palette, the launcher and the context menus.
 *
 * Commands that act on one item take it as an argument (`{workflowId}`, `{templateId}`, `{taskId}`, `{path}`);
 * run from a row's context menu without one, they act on the row under the menu.
 */
export namespace CommandIDs {
  export const openPanel = 'nndeploy:open-panel';
  export const refresh = 'nndeploy:refresh';
  /** `{workflowId?, templateId?}`; neither: pick a workflow. */
  export const run = 'nndeploy:run';
  export const runWithParameters = 'nndeploy:run-with-parameters';
  /** Args `{workflowId?, templateId?, path?}`: a workflow or template as a node graph in the main area. */
  export const openGraph = 'nndeploy:open-graph';
  /** Args `{templateId?}`: save a copy of a template as a new workflow and open it as a graph. */
  export const newFromTemplate = 'nndeploy:new-from-template';
  /** Args `{templateId}`: save a copy of a template as a new workflow, and say so. */
  export const saveTemplate = 'nndeploy:save-template-as-workflow';
  export const duplicateWorkflow = 'nndeploy:duplicate-workflow';
  export const renameWorkflow = 'nndeploy:rename-workflow';
  export const downloadWorkflow = 'nndeploy:download-workflow';
  export const deleteWorkflow = 'nndeploy:delete-workflow';
  export const uploadWorkflow = 'nndeploy:upload-workflow';
  export const cancelTask = 'nndeploy:cancel-task';
  export const flushQueue = 'nndeploy:flush-queue';
  export const showLog = 'nndeploy:show-log';
  export const showOutputs = 'nndeploy:show-outputs';
  /** Args `{folder?}`: pick files and upload them into a folder of `resources/`. */
  export const uploadFiles = 'nndeploy:upload-files';
  export const deleteFile = 'nndeploy:delete-file';
  export const openFile = 'nndeploy:open-file';
  export const copyPath = 'nndeploy:copy-path';
}

/** What the plugins share: one client, one store fed by one socket, the uploads, the viewers. */
export interface INndeploy {
  client: NndeployClient;
  store: NndeployStore;
  uploads: Uploads;
  viewers: Viewers;
  /** Where `resources/` is in Jupyter's file browser (null: outside the root, or not known). */
  paths: Promise<WorkspacePaths | null>;
}

export const INndeploy = new Token<INndeploy>('nndeploy-jupyter:core', 'The nndeploy client, event store and viewers.');
