/**
 * nndeploy-jupyter's JupyterLab plugin: adds the nndeploy panel to the left sidebar.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import graphPlugin from './graph/plugin';
import { NndeployPanel } from './panel';

const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'nndeploy-jupyter:panel',
  description: 'A sidebar panel listing nndeploy workflows and templates.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new NndeployPanel();
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);
  }
};

export default [panelPlugin, graphPlugin];
