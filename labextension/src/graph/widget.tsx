/**
 * The graph in JupyterLab's main area. A workflow's file opens as a document (`GraphDocument`, made by the
 * "nndeploy graph" widget factory) whose every save, from Ctrl+S, File › Save, autosave or the close
 * dialog, goes through `workflow/save`. A template (or a workflow outside Jupyter's root) opens in a
 * `GraphView`, whose Save creates (or updates) the workflow.
 */
import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { ABCWidgetFactory, DocumentRegistry, DocumentWidget } from '@jupyterlab/docregistry';
import {
  addIcon,
  redoIcon,
  runIcon,
  saveIcon,
  Toolbar,
  ToolbarButton,
  treeViewIcon,
  undoIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { GraphEditor } from './components/editor';
import { GraphController, IGraphHost } from './controller';
import { IGraphJSON } from './json';
import { GraphModel } from './model';
import { WorkspacePaths } from '../model/paths';
import { IGraphServices } from './services';

/** What the widgets need from the plugin around them. */
export interface IGraphDeps {
  services: IGraphServices;
  paths: Promise<WorkspacePaths | null>;
  /** Open a file the graph wrote (an output) in JupyterLab. */
  openOutput(absolutePath: string): void;
  /** Open a workflow as a graph (after a template was saved as one). */
  openWorkflow(id: string): Promise<void>;
}

export const FACTORY = 'nndeploy graph';

/** The editor, once its graph is loaded (or the reason it could not be). */
export class GraphContent extends ReactWidget {
  constructor() {
    super();
    this.addClass('jp-NndeployGraph');
  }

  controller: GraphController | null = null;
  error: string | null = null;

  load(controller: GraphController): void {
    performance.mark('nndeploy-graph-loaded'); // the graph is parsed: what follows is rendering (bench/bench_graph.py)
    this.controller = controller;
    this.update();
  }

  fail(reason: string): void {
    this.error = reason;
    this.update();
  }

  dispose(): void {
    this.controller?.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    if (this.controller) {
      return <GraphEditor controller={this.controller} />;
    }
    return (
      <div className={this.error ? 'jp-NndeployGraph-failed' : 'jp-NndeployGraph-loading'} role="status">
        {this.error ?? 'Loading the graph…'}
      </div>
    );
  }
}

export class GraphDocument extends DocumentWidget<GraphContent> {}

export class GraphWidgetFactory extends ABCWidgetFactory<GraphDocument> {
  constructor(
    options: DocumentRegistry.IWidgetFactoryOptions<GraphDocument>,
    private readonly deps: IGraphDeps
  ) {
    super(options);
  }

  protected createNewWidget(context: DocumentRegistry.Context): GraphDocument {
    const content = new GraphContent();
    const widget = new GraphDocument({ content, context });
    widget.addClass('jp-NndeployGraph-document');
    const host = new FileHost(context, content, this.deps);
    addGraphToolbar(widget.toolbar, content, PathExt.basename(context.path, '.json'));
    void host.start();
    return widget;
  }
}

/** A graph from a file: a saved workflow (saved through `workflow/save`), or any other JSON file. */
class FileHost implements IGraphHost {
  constructor(
    private readonly context: DocumentRegistry.Context,
    private readonly content: GraphContent,
    private readonly deps: IGraphDeps
  ) {
    // Route the context's save (Ctrl+S, File › Save, autosave, the close dialog) through this host.
    this._plainSave = context.save.bind(context);
    context.save = async () => {
      await this._started;
      await (this.content.controller ? this.content.controller.save() : this._plainSave());
    };
  }

  readonly banner = null;

  start(): Promise<void> {
    this._started = this._start().catch(error => this.content.fail(`This file is not an nndeploy graph: ${error}`));
    return this._started;
  }

  async save(graph: IGraphJSON): Promise<void> {
    const workflowId = await this._workflowId;
    if (workflowId) {
      await this.deps.services.saveWorkflow(graph, workflowId);
      await this.context.revert(); // read back what the server wrote: the context's timestamp stays right
    } else {
      this.context.model.fromString(`${JSON.stringify(graph, null, 2)}\n`);
      await this._plainSave();
    }
  }

  openOutput(path: string): void {
    this.deps.openOutput(path);
  }

  private async _start(): Promise<void> {
    this._workflowId = this._findWorkflow(); // beside the file's loading; only saving needs it
    await this.context.ready;
    const graph = parseGraph(this.context.model.toString());
    const model = new GraphModel(graph);
    model.changed.connect(() => (this.context.model.dirty = model.dirty));
    this.context.model.contentChanged.connect(() => this._reloaded(model));
    this.content.load(new GraphController(model, this.deps.services, this));
  }

  /** The id of the saved workflow this file is, or null for any other JSON file. */
  private async _findWorkflow(): Promise<string | null> {
    const paths = await this.deps.paths;
    if (!paths?.isWorkflowFile(this.context.path)) {
      return null;
    }
    const name = PathExt.basename(this.context.path);
    return (await this.deps.services.listWorkflows()).find(w => w.filename === name)?.id ?? null;
  }

  /** The file changed under the editor (reverted, or our own save read back): reload unless it is the same. */
  private _reloaded(model: GraphModel): void {
    let graph: IGraphJSON;
    try {
      graph = parseGraph(this.context.model.toString());
    } catch {
      return;
    }
    if (JSON.stringify(graph) !== JSON.stringify(model.toJSON())) {
      model.reset(graph);
    }
  }

  private _workflowId: Promise<string | null> = Promise.resolve(null);
  private _plainSave: () => Promise<void>;
  private _started: Promise<void> = Promise.resolve();
}

/** A template (its Save creates a workflow), or a workflow whose file Jupyter's root does not hold. */
export class GraphView extends MainAreaWidget<GraphContent> implements IGraphHost {
  constructor(
    graph: IGraphJSON,
    readonly source: { templateId: string } | { workflowId: string },
    private readonly deps: IGraphDeps
  ) {
    const content = new GraphContent();
    super({ content });
    this.addClass('jp-NndeployGraph-view');
    this.title.label = 'templateId' in source ? `${graph.name_} (template)` : graph.name_;
    this.title.closable = true;
    this.banner =
      'templateId' in source
        ? `Template ${graph.name_}: edit it freely; Save makes it a new workflow and the template stays as it is.`
        : null;
    const model = new GraphModel(graph);
    model.changed.connect(() => this.title.className = model.dirty ? 'jp-mod-dirty' : '');
    addGraphToolbar(this.toolbar, content, graph.name_);
    content.load(new GraphController(model, deps.services, this));
  }

  readonly banner: string | null;

  get controller(): GraphController | null {
    return this.content.controller;
  }

  async save(graph: IGraphJSON): Promise<void> {
    if ('workflowId' in this.source) {
      await this.deps.services.saveWorkflow(graph, this.source.workflowId);
      return;
    }
    const id = await this.deps.services.saveWorkflow(graph); // a taken name gets a suffix on the server: "Name (1)"
    await this.deps.openWorkflow(id);
    this.dispose();
  }

  openOutput(path: string): void {
    this.deps.openOutput(path);
  }
}

export function parseGraph(text: string): IGraphJSON {
  const graph = JSON.parse(text);
  if (typeof graph !== 'object' || graph === null || Array.isArray(graph)) {
    throw new Error('the JSON is not an object');
  }
  if (!Array.isArray(graph.node_repository_)) {
    throw new Error('it has no node_repository_ list');
  }
  return graph as IGraphJSON;
}

function addGraphToolbar(toolbar: Toolbar, content: GraphContent, name: string): void {
  const act = (action: (c: GraphController) => unknown) => () => {
    if (content.controller) {
      void action(content.controller);
    }
  };
  const buttons: [string, ToolbarButton][] = [
    ['save', new ToolbarButton({ icon: saveIcon, tooltip: `Save ${name} (Ctrl+S)`, onClick: act(c => c.save().catch(() => undefined)) })],
    ['undo', new ToolbarButton({ icon: undoIcon, tooltip: `Undo the last edit of ${name} (Ctrl+Z)`, onClick: act(c => c.model.undo()) })],
    ['redo', new ToolbarButton({ icon: redoIcon, tooltip: `Redo the edit of ${name} (Ctrl+Shift+Z)`, onClick: act(c => c.model.redo()) })],
    ['add-node', new ToolbarButton({ icon: addIcon, tooltip: `Add a node to ${name}`, onClick: act(c => c.setPalette(!c.paletteOpen)) })],
    ['layout', new ToolbarButton({ icon: treeViewIcon, tooltip: `Lay out ${name} automatically`, onClick: act(c => { c.model.relayout(); c.fit(); }) })],
    ['run', new ToolbarButton({ icon: runIcon, tooltip: `Run graph ${name}`, onClick: act(c => c.runGraph()) })]
  ];
  for (const [id, button] of buttons) {
    toolbar.addItem(id, button);
  }
}
