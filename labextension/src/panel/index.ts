/**
 * The left-sidebar panel: a header (the extension's version, its workers) over an accordion of four sections,
 * Templates, Workflows, Tasks and Resources, all drawn from the one store. Which sections are open is saved
 * with JupyterLab's layout (the shell keeps a side panel's accordion states), so a reload opens the same ones.
 */
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

export interface IPanelOptions {
  store: NndeployStore;
  uploads: Uploads;
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry | null;
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
    (this.content as AccordionPanel).expansionToggled.connect(giveRoomWhenOpened);
  }
}

/** Below this share of the panel, an opened section has no room at all (a title's height is more). */
const NO_ROOM = 0.02;

/**
 * Lumino's accordion gives a section it opens the size it had before it was closed, and when it knows none
 * (closed before a reload: the restored layout gave it 0) it leaves it 0 px high. Such a section gets an even
 * share of the room, taken from the others in proportion to their size.
 */
function giveRoomWhenOpened(accordion: AccordionPanel, index: number): void {
  const sizes = accordion.relativeSizes();
  const open = accordion.widgets.filter(widget => !widget.isHidden).length;
  if (accordion.widgets[index].isHidden || sizes[index] >= NO_ROOM || open < 2) {
    return;
  }
  const share = 1 / open;
  const others = sizes.reduce((sum, size, i) => (i === index ? sum : sum + size), 0) || 1;
  accordion.setRelativeSizes(sizes.map((size, i) => (i === index ? share : (size / others) * (1 - share))));
}
