/**
 * The left-sidebar panel: saved workflows and templates of the nndeploy server extension.
 *
 * A `SidePanel` whose accordion holds one `ListSection` per resource; later sections (tasks, resources)
 * are added the same way.
 */
import { ServerConnection } from '@jupyterlab/services';
import { SidePanel, ToolbarButton, refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  ITemplateSummary,
  IWorkflowSummary,
  ServerExtensionMissing,
  listTemplates,
  listWorkflows
} from './api';
import { nndeployIcon } from './icon';

/** What a list row shows. */
interface IRow {
  id: string;
  label: string;
  detail: string;
}

/** One titled accordion section holding a plain list. */
class ListSection extends Widget {
  constructor(title: string, private readonly emptyText: string) {
    super({ node: document.createElement('ul') });
    this.addClass('jp-NndeployPanel-list');
    this.node.setAttribute('aria-label', title);
    this.title.label = title;
  }

  render(rows: IRow[]): void {
    const items = rows.map(row => {
      const li = document.createElement('li');
      li.className = 'jp-NndeployPanel-item';
      li.dataset.id = row.id;
      li.title = row.detail ? `${row.label}\n${row.detail}` : row.label;
      const name = li.appendChild(document.createElement('span'));
      name.className = 'jp-NndeployPanel-name';
      name.textContent = row.label;
      if (row.detail) {
        const detail = li.appendChild(document.createElement('span'));
        detail.className = 'jp-NndeployPanel-detail';
        detail.textContent = row.detail;
      }
      return li;
    });
    if (items.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'jp-NndeployPanel-empty';
      empty.textContent = this.emptyText;
      items.push(empty);
    }
    this.node.replaceChildren(...items);
  }

  clear(): void {
    this.node.replaceChildren();
  }
}

export class NndeployPanel extends SidePanel {
  private readonly status = new Widget();
  private readonly workflows = new ListSection('Workflows', 'No saved workflows yet.');
  private readonly templates = new ListSection('Templates', 'No templates found.');
  private generation = 0; // bumped by each refresh, so a slow older answer cannot overwrite a newer one

  constructor() {
    super();
    this.id = 'nndeploy-jupyter-panel';
    this.addClass('jp-NndeployPanel');
    this.title.icon = nndeployIcon;
    this.title.caption = 'nndeploy';

    const heading = new Widget({ node: document.createElement('h2') });
    heading.node.textContent = 'nndeploy';
    heading.addClass('jp-NndeployPanel-heading');
    this.header.addWidget(heading);
    this.header.addWidget(this.status);
    this.status.addClass('jp-NndeployPanel-status');

    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        onClick: () => void this.refresh(),
        tooltip: 'Refresh workflows and templates'
      })
    );
    this.addWidget(this.workflows);
    this.addWidget(this.templates);
  }

  /** Reload both lists; a failure replaces them with the reason. */
  async refresh(): Promise<void> {
    const generation = ++this.generation;
    this.showStatus('Loading…');
    try {
      const [workflows, templates] = await Promise.all([listWorkflows(), listTemplates()]);
      if (generation !== this.generation) {
        return;
      }
      this.workflows.render(workflows.map(workflowRow));
      this.templates.render(templates.map(templateRow));
      this.showStatus('');
    } catch (error) {
      if (generation !== this.generation) {
        return;
      }
      this.workflows.clear();
      this.templates.clear();
      this.showStatus(describe(error), true);
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  private showStatus(text: string, isError = false): void {
    this.status.node.textContent = text;
    this.status.node.hidden = text === '';
    this.status.toggleClass('jp-mod-error', isError);
  }
}

function workflowRow(workflow: IWorkflowSummary): IRow {
  return { id: workflow.id, label: workflow.name_, detail: workflow.desc_ ?? '' };
}

function templateRow(template: ITemplateSummary): IRow {
  const detail = [template.category_, template.desc_].filter(Boolean).join(' · ');
  return { id: template.id, label: template.name_, detail };
}

function describe(error: unknown): string {
  if (error instanceof ServerExtensionMissing) {
    return error.message;
  }
  if (error instanceof ServerConnection.NetworkError) {
    return `Cannot reach the Jupyter server: ${error.message}`;
  }
  if (error instanceof ServerConnection.ResponseError) {
    return `nndeploy answered HTTP ${error.response.status}: ${error.message}`;
  }
  return `Unexpected error: ${String(error)}`;
}
