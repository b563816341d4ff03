/**
 * Command ids and other constants shared by the panel and the graph document.
 */
export namespace CommandIDs {
  export const openPanel = 'nndeploy:open-panel';
  export const run = 'nndeploy:run';
  export const runWithParameters = 'nndeploy:run-with-parameters';
  export const showOutputs = 'nndeploy:show-outputs';
  /** Args `{workflowId?, templateId?, path?}`: a workflow or template as a node graph in the main area. */
  export const openGraph = 'nndeploy:open-graph';
  /** Args `{templateId?}`: save a copy of a template as a new workflow and open it as a graph. */
  export const newFromTemplate = 'nndeploy:new-from-template';
}
