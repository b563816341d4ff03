/**
 * The state of one open graph beside its JSON: the catalogue, the selection, expanded groups, the server's
 * validation issue and the current run. Components read it and call its methods; it emits `changed`.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { Catalogue, INodeType } from './catalogue';
import { childrenOf, IGraphJSON, IXY, nameOf, walk } from './json';
import { cardSize } from './layout';
import { GraphModel } from './model';
import { nodeNamedBy, RunState } from './run';
import { IGraphServices, ServiceError } from './services';
import { IViewState } from './view';

/** What the widget around the editor does: save (to a workflow, a new workflow, a file), open a file. */
export interface IGraphHost {
  /** Words shown above the canvas (a template saves as a new workflow), or null. */
  readonly banner: string | null;
  save(graph: IGraphJSON): Promise<void>;
  openOutput(path: string): void;
}

let instances = 0;

export class GraphController implements IViewState {
  constructor(
    readonly model: GraphModel,
    readonly services: IGraphServices,
    readonly host: IGraphHost
  ) {
    model.changed.connect(this._emit, this);
    void this._loadCatalogue();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A page-unique id for this editor's DOM (form field ids, queries). */
  readonly domId = `jp-nndeploy-graph-${++instances}`;
  catalogue: Catalogue | null = null;
  catalogueError: string | null = null;
  selected: string | null = null;
  expanded = new Set<string>();
  run: RunState | null = null;
  issue: { nodeId: string | null; message: string } | null = null;
  paletteOpen = false;
  /** Bumped by every event of the run that changes what nodes show. */
  runVersion = 0;
  saving = false;
  /** Bumped to ask the canvas to fit the graph into view. */
  fitRequest = 0;
  /** The canvas tells where new nodes go (the middle of what is in view). */
  viewCenter: () => IXY = () => ({ x: 0, y: 0 });

  select(id: string | null): void {
    if (id !== this.selected && (id === null || this.model.node(id))) {
      this.selected = id;
      this._emit();
    }
  }

  toggleExpanded(id: string): void {
    if (!this.expanded.delete(id)) {
      this.expanded.add(id);
    }
    this._emit();
  }

  setPalette(open: boolean): void {
    this.paletteOpen = open;
    this._emit();
  }

  fit(): void {
    this.fitRequest++;
    this._emit();
  }

  addNode(type: INodeType): void {
    const center = this.viewCenter();
    const id = this.model.addNode(type.entity, this._freeSpot({ x: center.x - 100, y: center.y - 40 }));
    this.paletteOpen = false;
    this.select(id);
  }

  removeSelected(): void {
    if (this.selected) {
      this.model.removeNodes([this.selected]);
      this.selected = null;
      this._emit();
    }
  }

  async save(): Promise<void> {
    if (this.saving) {
      return;
    }
    this.saving = true;
    this._emit();
    try {
      await this.host.save(this.model.toJSON());
      this.model.markSaved();
      this.issue = null;
    } catch (error) {
      this._showIssue(error);
      throw error;
    } finally {
      this.saving = false;
      this._emit();
    }
  }

  /** Queue the graph as it is on screen and follow its run node by node. */
  async runGraph(): Promise<void> {
    this._following?.dispose();
    this.issue = null;
    this.run = null;
    this._emit();
    try {
      const taskId = await this.services.submit(this.model.toJSON());
      const run = new RunState(taskId);
      this.run = run;
      run.changed.connect(() => {
        this.runVersion++;
        this._emit();
      });
      this._following = this.services.taskEvents(taskId, event => {
        run.apply(event);
        if (event.type === 'task_run_info') {
          this._following?.dispose(); // the last event of a run (after its final status)
        }
      });
    } catch (error) {
      this._showIssue(error);
    }
    this._emit();
  }

  dispose(): void {
    this._following?.dispose();
    Signal.clearData(this);
  }

  /** The first place from `start` downwards where a new card overlaps no top-level node. */
  private _freeSpot(start: IXY): IXY {
    const boxes = childrenOf(this.model.graph).map(node => ({
      ...this.model.position(node.name_),
      ...cardSize(node)
    }));
    const spot = { ...start };
    const overlaps = (): boolean =>
      boxes.some(b => spot.x < b.x + b.width + 20 && b.x < spot.x + 220 && spot.y < b.y + b.height + 20 && b.y < spot.y + 140);
    for (let tries = 0; tries < 50 && overlaps(); tries++) {
      spot.y += 60;
    }
    return spot;
  }

  /** A server error that names a node is shown on that node; any other on the whole graph. */
  private _showIssue(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const named = error instanceof ServiceError && error.status === 400 ? nodeNamedBy(message) : null;
    this.issue = { nodeId: named ? this._resolve(named) : null, message };
    if (this.issue.nodeId) {
      this.selected = this.issue.nodeId;
    }
  }

  /** `Group/Canny` (a name under its parent's name) to the id of that node, wherever it is nested. */
  private _resolve(named: string): string | null {
    if (this.model.node(named)) {
      return named;
    }
    for (const { id } of walk(this.model.graph)) {
      if (id.endsWith(`/${named}`) || nameOf(id) === named) {
        return id;
      }
    }
    return null;
  }

  private async _loadCatalogue(): Promise<void> {
    try {
      const [dag, types] = await Promise.all([this.services.dagInfo(), this.services.paramTypes()]);
      this.catalogue = new Catalogue(dag, types);
    } catch (error) {
      this.catalogueError = error instanceof Error ? error.message : String(error);
    }
    this._emit();
  }

  private _emit(): void {
    if (this.selected && !this.model.node(this.selected)) {
      this.selected = null; // undone away
    }
    this._changed.emit();
  }

  private _following: IDisposable | null = null;
  private _changed = new Signal<this, void>(this);
}
