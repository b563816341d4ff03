/**
 * The left-sidebar panel: a header (the extension's version, its workers) over an accordion of four sections,
 * Templates, Workflows, Tasks and Resources, all drawn from the one store. Which sections are open is kept in
 * JupyterLab's state database, so a reload opens the same ones.
 */
import { IStateDB } from '@jupyterlab/statedb';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { refreshIcon, SidePanel, ToolbarButton } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { AccordionPanel } from '@lumino/widgets';

import { nndeployIcon } from '../icon';
import { NndeployStore } from '../model/store';
import { Uploads } from '../model/uploads';
import { CommandIDs } from '../tokens';
import { PanelHeader } from './header';
import { ResourcesSection } from './resources';
import { TasksSection } from './tasks';
import { TemplatesSection } from './templates';
import { WorkflowsSection } from './workflows';

export const PANEL_ID = 'nndeploy-jupyter-panel';
const STATE_KEY = 'nndeploy-jupyter:panel-sections';

export interface IPanelOptions {
  store: NndeployStore;
  uploads: Uploads;
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry | null;
  state: IStateDB | null;
}

export class NndeployPanel extends SidePanel {
  constructor(options: IPanelOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-NndeployPanel');
    this.title.icon = nndeployIcon;
    this.title.caption = 'nndeploy';
    const { store, commands } = options;
    this.header.addWidget(new PanelHeader(store));
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({ icon: refreshIcon, onClick: () => void commands.execute(CommandIDs.refresh), tooltip: 'Refresh everything nndeploy shows' })
    );
    this.addWidget(new TemplatesSection(store, commands, options.rendermime));
    this.addWidget(new WorkflowsSection(store, commands));
    this.addWidget(new TasksSection(store, commands));
    this.addWidget(new ResourcesSection(store, commands, options.uploads));
    void this._restoreSections(options.state);
  }

  private get accordion(): AccordionPanel {
    return this.content as AccordionPanel;
  }

  /** Open the sections open last time (all of them the first time), then remember each toggle. */
  private async _restoreSections(state: IStateDB | null): Promise<void> {
    const saved = state ? ((await state.fetch(STATE_KEY).catch(() => undefined)) as string[] | undefined) : undefined;
    if (saved) {
      this.accordion.widgets.forEach((widget, index) =>
        saved.includes(widget.title.label) ? this.accordion.expand(index) : this.accordion.collapse(index)
      );
    }
    this.accordion.expansionToggled.connect(() => {
      const open = this.accordion.widgets.filter(w => !w.isHidden).map(w => w.title.label);
      void state?.save(STATE_KEY, open);
    });
  }
}
