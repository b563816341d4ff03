/**
 * The graph plugin: the "nndeploy graph" widget factory for workflow JSON, the commands that open a workflow
 * or template as a graph and make a new workflow from a template, the launcher item, and the editing
 * commands with their keyboard shortcuts.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { ILauncher } from '@jupyterlab/launcher';

import { nndeployIcon } from '../icon';
import { CommandIDs, INndeploy } from '../tokens';
import { StoreGraphServices } from './adapter';
import { GraphController } from './controller';
import { WorkspacePaths } from '../model/paths';
import { IGraphServices } from './services';
import { FACTORY, GraphDocument, GraphView, GraphWidgetFactory, IGraphDeps } from './widget';

/** Editing commands of the graph in focus. */
export namespace GraphCommandIDs {
  export const save = 'nndeploy:graph-save';
  export const undo = 'nndeploy:graph-undo';
  export const redo = 'nndeploy:graph-redo';
  export const addNode = 'nndeploy:graph-add-node';
  export const runGraph = 'nndeploy:graph-run';
  export const layout = 'nndeploy:graph-layout';
}

type GraphWidget = GraphDocument | GraphView;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nndeploy-jupyter:graph',
  description: 'nndeploy workflows as node graphs: open, edit, save and run them in the main area.',
  autoStart: true,
  requires: [IDocumentManager, INndeploy],
  optional: [ILauncher, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    nndeploy: INndeploy,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const services = new StoreGraphServices(nndeploy.store);
    const paths = nndeploy.paths;
    const tracker = new WidgetTracker<GraphWidget>({ namespace: 'nndeploy-graph' });
    const deps: IGraphDeps = {
      services,
      paths,
      openOutput: path => void nndeploy.viewers.open(path),
      openWorkflow: async workflowId => {
        await app.commands.execute(CommandIDs.openGraph, { workflowId });
      }
    };

    const factory = new GraphWidgetFactory(
      { name: FACTORY, label: 'nndeploy graph', fileTypes: ['json'], modelName: 'text', preferKernel: false, canStartKernel: false },
      deps
    );
    factory.widgetCreated.connect((_, widget) => void tracker.add(widget));
    app.docRegistry.addWidgetFactory(factory);
    preferGraphForWorkflows(app.docRegistry, paths);

    const openView = (view: GraphView): void => {
      app.shell.add(view, 'main');
      void tracker.add(view);
      app.shell.activateById(view.id);
    };
    addOpenCommands(app, docManager, services, paths, deps, openView);
    addEditCommands(app, tracker);

    launcher?.add({ command: CommandIDs.newFromTemplate, category: 'nndeploy', rank: 1 });
    for (const command of [CommandIDs.newFromTemplate, CommandIDs.openGraph]) {
      palette?.addItem({ command, category: 'nndeploy' });
    }
    void restorer?.restore(tracker, {
      command: CommandIDs.openGraph,
      args: widget => (widget instanceof GraphDocument ? { path: widget.context.path } : widget.source),
      name: widget => (widget instanceof GraphDocument ? widget.context.path : JSON.stringify(widget.source))
    });
  }
};

export default plugin;

function addOpenCommands(
  app: JupyterFrontEnd,
  docManager: IDocumentManager,
  services: IGraphServices,
  paths: Promise<WorkspacePaths | null>,
  deps: IGraphDeps,
  openView: (view: GraphView) => void
): void {
  app.commands.addCommand(CommandIDs.openGraph, {
    label: args => (args.workflowId || args.templateId || args.path ? 'Open as Graph' : 'Open a Workflow as a Graph…'),
    caption: 'Open an nndeploy workflow or template as a node graph',
    icon: nndeployIcon,
    execute: async args => {
      try {
        const choice = (args.workflowId || args.templateId || args.path ? args : await pickGraph(services)) as {
          workflowId?: string;
          templateId?: string;
          path?: string;
        } | null;
        if (choice?.path) {
          return docManager.openOrReveal(choice.path, FACTORY);
        }
        if (choice?.workflowId) {
          const path = await workflowPath(services, await paths, choice.workflowId);
          if (path) {
            return docManager.openOrReveal(path, FACTORY);
          }
          const graph = await services.getWorkflow(choice.workflowId);
          openView(new GraphView(graph, { workflowId: choice.workflowId }, deps));
        } else if (choice?.templateId) {
          const graph = await services.getTemplate(choice.templateId);
          openView(new GraphView(graph, { templateId: choice.templateId }, deps));
        }
      } catch (error) {
        Notification.error(`Cannot open the graph: ${(error as Error).message}`);
      }
    }
  });

  app.commands.addCommand(CommandIDs.newFromTemplate, {
    label: args => (args.templateId ? 'New Workflow from this Template' : 'New Graph from Template…'),
    caption: 'Save a copy of an nndeploy template as a new workflow and open it as a graph',
    icon: nndeployIcon,
    execute: async args => {
      try {
        const templateId = (args.templateId as string | undefined) ?? (await pickTemplate(services));
        if (!templateId) {
          return;
        }
        const graph = await services.getTemplate(templateId);
        const workflowId = await services.saveWorkflow(graph); // the server suffixes a taken name: "Name (1)"
        await app.commands.execute(CommandIDs.openGraph, { workflowId });
      } catch (error) {
        Notification.error(`Cannot make a workflow from the template: ${(error as Error).message}`);
      }
    }
  });
}

function addEditCommands(app: JupyterFrontEnd, tracker: WidgetTracker<GraphWidget>): void {
  const current = (): GraphController | null => tracker.currentWidget?.content.controller ?? null;
  const add = (id: string, label: string, run: (c: GraphController) => unknown, enabled?: (c: GraphController) => boolean) =>
    app.commands.addCommand(id, {
      label,
      isEnabled: () => {
        const c = current();
        return c !== null && (enabled ? enabled(c) : true);
      },
      execute: () => {
        const c = current();
        return c ? run(c) : undefined;
      }
    });
  add(GraphCommandIDs.save, 'Save Graph', c => c.save().catch(() => undefined));
  add(GraphCommandIDs.undo, 'Undo Graph Edit', c => c.model.undo(), c => c.model.canUndo);
  add(GraphCommandIDs.redo, 'Redo Graph Edit', c => c.model.redo(), c => c.model.canRedo);
  add(GraphCommandIDs.addNode, 'Add Node…', c => c.setPalette(true));
  add(GraphCommandIDs.runGraph, 'Run Graph', c => c.runGraph());
  add(GraphCommandIDs.layout, 'Lay Out Graph Automatically', c => {
    c.model.relayout();
    c.fit();
  });
  // On the canvas only: in a form field, Ctrl+Z undoes typing as usual.
  const canvas = '.jp-NndeployGraph-canvas';
  app.commands.addKeyBinding({ command: GraphCommandIDs.undo, keys: ['Accel Z'], selector: canvas });
  app.commands.addKeyBinding({ command: GraphCommandIDs.redo, keys: ['Accel Shift Z'], selector: canvas });
  app.commands.addKeyBinding({ command: GraphCommandIDs.redo, keys: ['Accel Y'], selector: canvas });
  app.commands.addKeyBinding({ command: GraphCommandIDs.addNode, keys: ['Shift A'], selector: canvas });
  // A document saves through its context (docmanager's Ctrl+S); a template view has no context.
  app.commands.addKeyBinding({ command: GraphCommandIDs.save, keys: ['Accel S'], selector: '.jp-NndeployGraph-view' });
}

/** A `.json` file in `resources/workflow/` opens as a graph by default (elsewhere JSON's own default stays). */
function preferGraphForWorkflows(registry: DocumentRegistry, paths: Promise<WorkspacePaths | null>): void {
  let known: WorkspacePaths | null = null;
  void paths.then(p => (known = p));
  const original = registry.defaultWidgetFactory.bind(registry);
  registry.defaultWidgetFactory = (path?: string) =>
    path && known?.isWorkflowFile(path) ? (registry.getWidgetFactory(FACTORY) ?? original(path)) : original(path);
}

async function workflowPath(services: IGraphServices, paths: WorkspacePaths | null, id: string): Promise<string | null> {
  const folder = paths?.workflowFolder;
  if (!folder) {
    return null;
  }
  const workflow = (await services.listWorkflows()).find(w => w.id === id);
  if (!workflow) {
    throw new Error(`no workflow with id ${id}`);
  }
  return workflow.filename ? PathExt.join(folder, workflow.filename) : null;
}

async function pickTemplate(services: IGraphServices): Promise<string | null> {
  const templates = await services.listTemplates();
  const labels = templates.map(t => (t.category_ ? `${t.name_} (${t.category_})` : t.name_));
  const answer = await InputDialog.getItem({ title: 'New workflow from template', label: 'Template', items: labels });
  return answer.button.accept && answer.value !== null ? (templates[labels.indexOf(answer.value)]?.id ?? null) : null;
}

async function pickGraph(services: IGraphServices): Promise<{ workflowId?: string; templateId?: string } | null> {
  const [workflows, templates] = await Promise.all([services.listWorkflows(), services.listTemplates()]);
  const choices = [
    ...workflows.map(w => ({ label: `Workflow: ${w.name_}`, value: { workflowId: w.id } })),
    ...templates.map(t => ({ label: `Template: ${t.name_}`, value: { templateId: t.id } }))
  ];
  const answer = await InputDialog.getItem({
    title: 'Open as graph',
    label: 'Workflow or template',
    items: choices.map(c => c.label)
  });
  return answer.button.accept ? (choices.find(c => c.label === answer.value)?.value ?? null) : null;
}
