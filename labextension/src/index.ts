/**
 * nndeploy-jupyter's JupyterLab plugins:
 * - `core` makes the one client, the one event store (fed by one WebSocket) and the viewers;
 * - `panel` adds the workbench to the left sidebar and every command (palette, context menus);
 * - `graph` (in `graph/`) opens workflows and templates as node graphs in the main area.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { NndeployClient } from './api/client';
import { addCommands } from './commands';
import graphPlugin from './graph/plugin';
import { WorkspacePaths } from './model/paths';
import { NndeployStore } from './model/store';
import { Uploads } from './model/uploads';
import { NndeployPanel, PANEL_ID } from './panel';
import { INndeploy } from './tokens';
import { Viewers } from './viewers';

const corePlugin: JupyterFrontEndPlugin<INndeploy> = {
  id: 'nndeploy-jupyter:core',
  description: 'The nndeploy server extension client and the event store every view reads.',
  autoStart: true,
  provides: INndeploy,
  activate: (app: JupyterFrontEnd): INndeploy => {
    const client = new NndeployClient();
    const store = new NndeployStore(client);
    // After the page is restored: loading the extension must not slow JupyterLab's own start.
    const paths = app.restored.then(() => WorkspacePaths.load(client)).catch(() => null);
    void app.restored.then(() => store.start());
    return { client, store, uploads: new Uploads(store), viewers: new Viewers(app, client, paths), paths };
  }
};

const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'nndeploy-jupyter:panel',
  description: 'The nndeploy workbench in the left sidebar: templates, workflows, tasks and resources.',
  autoStart: true,
  requires: [INndeploy],
  optional: [ILayoutRestorer, ICommandPalette, IRenderMimeRegistry],
  activate: (
    app: JupyterFrontEnd,
    nndeploy: INndeploy,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const { store, uploads, viewers } = nndeploy;
    const panel = new NndeployPanel({ store, uploads, commands: app.commands, rendermime });
    app.shell.add(panel, 'left', { rank: 900 });
    // The layout restorer also keeps which of the panel's sections are open (JupyterLab's shell saves a side
    // panel's accordion states with the layout).
    restorer?.add(panel, panel.id);
    addCommands({ app, store, uploads, viewers, palette, panelId: PANEL_ID });
  }
};

export default [corePlugin, panelPlugin, graphPlugin];
