/**
 * Every action of the workbench as a JupyterLab command: the panel's buttons, the rows' context menus, the
 * command palette and the keyboard all run these. A command on one item takes it as an argument; from a
 * context menu without one, it acts on the row under the menu.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Dialog, ICommandPalette, InputDialog, MainAreaWidget, Notification, showDialog } from '@jupyterlab/apputils';
import {
  clearIcon,
  copyIcon,
  deleteIcon,
  downloadIcon,
  duplicateIcon,
  editIcon,
  fileUploadIcon,
  imageIcon,
  listIcon,
  refreshIcon,
  runIcon,
  saveIcon,
  settingsIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { describeError, GraphJSON } from './api/client';
import { nndeployIcon } from './icon';
import { ITask, NndeployStore } from './model/store';
import { Uploads } from './model/uploads';
import { askParameters } from './run';
import { openTaskLog } from './tasklog';
import { CommandIDs } from './tokens';
import { Viewers } from './viewers';

export interface ICommandsContext {
  app: JupyterFrontEnd;
  store: NndeployStore;
  uploads: Uploads;
  viewers: Viewers;
  palette: ICommandPalette | null;
  panelId: string;
}

type Args = ReadonlyPartialJSONObject;

export function addCommands(context: ICommandsContext): void {
  const { app } = context;
  addPanelCommands(context);
  addWorkflowCommands(context);
  addTaskCommands(context);
  addFileCommands(context);
  addContextMenus(app);
  for (const command of [CommandIDs.openPanel, CommandIDs.run, CommandIDs.runWithParameters, CommandIDs.flushQueue, CommandIDs.uploadWorkflow, CommandIDs.uploadFiles, CommandIDs.refresh]) {
    context.palette?.addItem({ command, category: 'nndeploy' });
  }
}

/** The row a context menu was opened on: `{kind, id}` from its data attributes. */
function rowUnderMenu(app: JupyterFrontEnd): { kind: string; id: string } | null {
  const row = app.contextMenuHitTest(node => node.classList?.contains('jp-NndeployPanel-row'));
  return row?.dataset.kind && row.dataset.id ? { kind: row.dataset.kind, id: row.dataset.id } : null;
}

/** `args[key]`, else the id of the row under the context menu when it is of `kinds`. */
function target(app: JupyterFrontEnd, args: Args, key: string, ...kinds: string[]): string | null {
  const given = args[key];
  if (typeof given === 'string' && given) {
    return given;
  }
  const row = rowUnderMenu(app);
  return row && kinds.includes(row.kind) ? row.id : null;
}

/** Run `action`; a failure becomes a notification with the server's reason. */
async function attempt(what: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    Notification.error(`${what}: ${describeError(error)}`, { autoClose: false });
  }
}

function addPanelCommands({ app, store, panelId }: ICommandsContext): void {
  app.commands.addCommand(CommandIDs.openPanel, {
    label: 'Open the nndeploy Panel',
    icon: nndeployIcon,
    execute: () => app.shell.activateById(panelId)
  });
  app.commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh nndeploy',
    caption: 'Reload workflows, templates, tasks, resources and the workers’ state',
    icon: refreshIcon,
    execute: () => store.refresh()
  });
}

// -- workflows and templates ------------------------------------------------------------------------

function addWorkflowCommands(context: ICommandsContext): void {
  const { app, store } = context;
  const client = store.client;
  const source = (args: Args): { workflowId?: string; templateId?: string } | null => {
    const workflowId = target(app, args, 'workflowId', 'workflow');
    if (workflowId) {
      return { workflowId };
    }
    const templateId = target(app, args, 'templateId', 'template');
    return templateId ? { templateId } : null;
  };
  const nameOf = (s: { workflowId?: string; templateId?: string }): string =>
    (s.workflowId ? store.workflows.find(w => w.id === s.workflowId)?.name_ : store.templates.find(t => t.id === s.templateId)?.name_) ??
    s.workflowId ??
    s.templateId ??
    '';
  const run = async (args: Args, withParameters: boolean): Promise<void> => {
    const chosen = source(args) ?? (await pickWorkflow(store));
    if (!chosen) {
      return;
    }
    const name = nameOf(chosen);
    await attempt(`Cannot run ${name}`, async () => {
      let params = {};
      if (withParameters) {
        const graph = chosen.workflowId ? await client.workflow(chosen.workflowId) : await client.template(chosen.templateId!);
        const asked = await askParameters(client, graph);
        if (asked === null) {
          return;
        }
        params = asked;
      }
      const ids = chosen.workflowId ? { workflow_id: chosen.workflowId } : { template_id: chosen.templateId };
      await client.submit({ ...ids, params });
      Notification.info(`${name} is queued`, { autoClose: 2500 });
    });
  };
  app.commands.addCommand(CommandIDs.run, {
    label: args => (source(args) ? `Run ${nameOf(source(args)!)}` : 'Run a Workflow…'),
    caption: 'Queue an nndeploy workflow or template to run',
    icon: runIcon,
    execute: args => run(args, false)
  });
  app.commands.addCommand(CommandIDs.runWithParameters, {
    label: args => (source(args) ? `Run ${nameOf(source(args)!)} with Parameters…` : 'Run a Workflow with Parameters…'),
    caption: 'Set node parameters for one run, then queue it',
    icon: settingsIcon,
    execute: args => run(args, true)
  });
  app.commands.addCommand(CommandIDs.saveTemplate, {
    label: 'Save as Workflow',
    caption: 'Save a copy of this template among your workflows',
    icon: saveIcon,
    execute: args => {
      const templateId = target(app, args, 'templateId', 'template');
      return templateId ? saveCopy(context, () => client.template(templateId), 'Cannot save the template') : undefined;
    }
  });
  app.commands.addCommand(CommandIDs.duplicateWorkflow, {
    label: 'Duplicate',
    icon: duplicateIcon,
    execute: args => {
      const workflowId = target(app, args, 'workflowId', 'workflow');
      return workflowId ? saveCopy(context, () => client.workflow(workflowId), 'Cannot duplicate the workflow') : undefined;
    }
  });
  app.commands.addCommand(CommandIDs.renameWorkflow, {
    label: 'Rename…',
    icon: editIcon,
    execute: async args => {
      const workflowId = target(app, args, 'workflowId', 'workflow');
      if (!workflowId) {
        return;
      }
      const old = nameOf({ workflowId });
      const answer = await InputDialog.getText({ title: `Rename ${old}`, label: 'New name', text: old, okLabel: 'Rename' });
      const name = answer.value?.trim();
      if (!answer.button.accept || !name || name === old) {
        return;
      }
      await attempt(`Cannot rename ${old}`, async () => {
        const graph = await client.workflow(workflowId);
        await client.saveWorkflow({ ...graph, name_: name }, workflowId);
        await store.refreshWorkflows();
      });
    }
  });
  app.commands.addCommand(CommandIDs.downloadWorkflow, {
    label: 'Download',
    icon: downloadIcon,
    execute: args => {
      const workflowId = target(app, args, 'workflowId', 'workflow');
      if (!workflowId) {
        return;
      }
      const name = nameOf({ workflowId });
      return attempt(`Cannot download ${name}`, async () => saveBlob(await client.downloadWorkflow(workflowId), `${name}.json`));
    }
  });
  app.commands.addCommand(CommandIDs.deleteWorkflow, {
    label: 'Delete…',
    icon: deleteIcon,
    execute: async args => {
      const workflowId = target(app, args, 'workflowId', 'workflow');
      if (!workflowId) {
        return;
      }
      const name = nameOf({ workflowId });
      if (await confirm(`Delete the workflow ${name}?`, 'Its file in resources/workflow/ is removed. Tasks already run keep their history.')) {
        await attempt(`Cannot delete ${name}`, async () => {
          await client.deleteWorkflow(workflowId);
          await store.refreshWorkflows();
        });
      }
    }
  });
  app.commands.addCommand(CommandIDs.uploadWorkflow, {
    label: 'Upload a Workflow (.json)…',
    icon: fileUploadIcon,
    execute: async () => {
      for (const file of await pickFiles('.json,application/json', false)) {
        await attempt(`Cannot upload ${file.name}`, async () => {
          await client.uploadWorkflow(file);
          await store.refreshWorkflows();
          Notification.success(`Uploaded the workflow ${file.name}`, { autoClose: 3000 });
        });
      }
    }
  });
}

async function saveCopy(context: ICommandsContext, load: () => Promise<GraphJSON>, what: string): Promise<void> {
  const { app, store } = context;
  await attempt(what, async () => {
    const graph = await load();
    const id = await store.client.saveWorkflow(graph);
    await store.refreshWorkflows();
    const name = store.workflows.find(w => w.id === id)?.name_ ?? graph.name_;
    Notification.success(`Saved the workflow ${name}`, {
      autoClose: 5000,
      actions: [{ label: 'Open as graph', callback: () => void app.commands.execute(CommandIDs.openGraph, { workflowId: id }) }]
    });
  });
}

async function pickWorkflow(store: NndeployStore): Promise<{ workflowId?: string; templateId?: string } | null> {
  const choices = [
    ...store.workflows.map(w => ({ label: `Workflow: ${w.name_}`, value: { workflowId: w.id } })),
    ...store.templates.map(t => ({ label: `Template: ${t.name_}`, value: { templateId: t.id } }))
  ];
  if (!choices.length) {
    Notification.warning('There is no workflow or template to run yet.');
    return null;
  }
  const answer = await InputDialog.getItem({ title: 'Run a workflow', label: 'Workflow or template', items: choices.map(c => c.label) });
  return answer.button.accept ? (choices.find(c => c.label === answer.value)?.value ?? null) : null;
}

// -- tasks ------------------------------------------------------------------------------------------

function addTaskCommands(context: ICommandsContext): void {
  const { app, store, viewers } = context;
  const taskOf = (args: Args) => {
    const id = target(app, args, 'taskId', 'task');
    return id ? (store.task(id) ?? null) : null;
  };
  app.commands.addCommand(CommandIDs.cancelTask, {
    label: 'Cancel Task',
    icon: stopIcon,
    isEnabled: args => {
      const task = taskOf(args);
      return task === null || !['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'].includes(task.state);
    },
    execute: args => {
      const id = target(app, args, 'taskId', 'task');
      return id ? attempt('Cannot cancel the task', async () => store.update(await store.client.cancel(id))) : undefined;
    }
  });
  app.commands.addCommand(CommandIDs.flushQueue, {
    label: 'Flush the nndeploy Queue',
    caption: 'Cancel every pending task (running tasks go on)',
    icon: clearIcon,
    execute: async () => {
      const pending = store.queue.filter(t => t.state === 'PENDING').length;
      if (await confirm(`Cancel ${pending} pending ${pending === 1 ? 'task' : 'tasks'}?`, 'Running tasks go on.')) {
        await attempt('Cannot flush the queue', () => store.client.flush());
      }
    }
  });
  app.commands.addCommand(CommandIDs.showLog, {
    label: 'Show Log',
    icon: listIcon,
    execute: args => {
      const id = target(app, args, 'taskId', 'task');
      if (id) {
        openTaskLog(store, id, widget => addToMain(app, widget));
      }
    }
  });
  app.commands.addCommand(CommandIDs.showOutputs, {
    label: 'Show Outputs',
    icon: imageIcon,
    isEnabled: args => (taskOf(args)?.outputs.length ?? 1) > 0,
    execute: async args => {
      const task = taskOf(args);
      for (const output of task?.outputs ?? []) {
        await viewers.open(output.path);
      }
    }
  });
  store.taskEnded.connect((_, task) => notifyEnd(app, task));
}

/**
 * A task that ends while the page is open says so. A burst of endings (a batch, a flush) is one notification
 * that counts them, updated in place at most once a second while the burst lasts, not a toast per task.
 */
function notifyEnd(app: JupyterFrontEnd, task: ITask): void {
  ended.push(task);
  if (ended.length === 1) {
    setTimeout(() => notifyEnded(app, ended.splice(0)), burst ? 1000 : 250);
  }
}

function notifyEnded(app: JupyterFrontEnd, tasks: ITask[]): void {
  if (!burst && tasks.length === 1) {
    notifyOne(app, tasks[0]);
    return;
  }
  burst ??= { id: '', succeeded: 0, failed: 0, quiet: 0 };
  burst.succeeded += tasks.filter(t => t.state === 'SUCCEEDED').length;
  burst.failed += tasks.filter(t => t.state !== 'SUCCEEDED').length;
  const { succeeded, failed } = burst;
  const message = `${succeeded + failed} nndeploy tasks ended: ${succeeded} succeeded, ${failed} did not`;
  const type = failed ? 'warning' : 'success';
  if (burst.id && Notification.manager.has(burst.id)) {
    Notification.update({ id: burst.id, message, type, autoClose: 5000 });
  } else {
    burst.id = Notification.emit(message, type, { autoClose: 5000 });
  }
  window.clearTimeout(burst.quiet);
  burst.quiet = window.setTimeout(() => (burst = null), 5000); // the next ending after a quiet spell is news
}
const ended: ITask[] = [];
let burst: { id: string; succeeded: number; failed: number; quiet: number } | null = null;

function notifyOne(app: JupyterFrontEnd, task: ITask): void {
  const args = { taskId: task.id };
  if (task.state === 'SUCCEEDED') {
    const actions = task.outputs.length ? [{ label: 'Show outputs', callback: () => void app.commands.execute(CommandIDs.showOutputs, args) }] : [];
    Notification.success(`${task.name} succeeded`, { autoClose: 8000, actions });
  } else {
    const reason = task.error ? `: ${task.error}` : '';
    Notification.error(`${task.name} ${task.state.toLowerCase()}${reason}`, {
      autoClose: false,
      actions: [{ label: 'Show log', callback: () => void app.commands.execute(CommandIDs.showLog, args) }]
    });
  }
}

// -- files ------------------------------------------------------------------------------------------

function addFileCommands({ app, store, uploads, viewers }: ICommandsContext): void {
  app.commands.addCommand(CommandIDs.uploadFiles, {
    label: args => (args.folder ? `Upload Files into ${args.folder}…` : 'Upload Files into nndeploy Resources…'),
    icon: fileUploadIcon,
    execute: async args => {
      const folder = target(app, args, 'folder', 'folder') ?? undefined;
      const landed = await uploads.upload(await pickFiles('', true), folder);
      if (landed.length) {
        Notification.success(`Uploaded ${landed.map(f => f.saved_path).join(', ')}`, { autoClose: 4000 });
      }
    }
  });
  app.commands.addCommand(CommandIDs.openFile, {
    label: 'Open',
    execute: args => {
      const path = target(app, args, 'path', 'file');
      return path ? viewers.open(path) : undefined;
    }
  });
  app.commands.addCommand(CommandIDs.copyPath, {
    label: 'Copy Path',
    caption: 'Copy the resources/… path, to paste into a node’s parameter',
    icon: copyIcon,
    execute: args => {
      const path = target(app, args, 'path', 'file', 'folder');
      if (path) {
        Clipboard.copyToSystem(path);
        Notification.info(`Copied ${path}`, { autoClose: 2000 });
      }
    }
  });
  app.commands.addCommand(CommandIDs.deleteFile, {
    label: 'Delete…',
    icon: deleteIcon,
    execute: async args => {
      const path = target(app, args, 'path', 'file');
      if (path && (await confirm(`Delete ${path}?`, 'The file is removed from the server.'))) {
        await attempt(`Cannot delete ${path}`, async () => {
          await store.client.deleteFile(path);
          await store.refreshFiles();
        });
      }
    }
  });
}

// -- context menus ----------------------------------------------------------------------------------

function addContextMenus(app: JupyterFrontEnd): void {
  const items: [string, string[]][] = [
    ['workflow', [CommandIDs.openGraph, CommandIDs.run, CommandIDs.runWithParameters, CommandIDs.duplicateWorkflow, CommandIDs.renameWorkflow, CommandIDs.downloadWorkflow, CommandIDs.deleteWorkflow]],
    ['template', [CommandIDs.openGraph, CommandIDs.run, CommandIDs.runWithParameters, CommandIDs.saveTemplate]],
    ['task', [CommandIDs.showOutputs, CommandIDs.showLog, CommandIDs.cancelTask]],
    ['file', [CommandIDs.openFile, CommandIDs.copyPath, CommandIDs.deleteFile]],
    ['folder', [CommandIDs.uploadFiles, CommandIDs.copyPath]]
  ];
  for (const [kind, commands] of items) {
    commands.forEach((command, rank) =>
      app.contextMenu.addItem({ command, selector: `.jp-NndeployPanel-row[data-kind="${kind}"]`, rank })
    );
  }
}

// -- small helpers ----------------------------------------------------------------------------------

async function confirm(title: string, body: string): Promise<boolean> {
  const result = await showDialog({ title, body, buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })] });
  return result.button.accept;
}

function pickFiles(accept: string, multiple: boolean): Promise<File[]> {
  return new Promise(resolve => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.multiple = multiple;
    input.className = 'jp-NndeployPanel-fileInput';
    input.onchange = () => {
      resolve(Array.from(input.files ?? []));
      input.remove();
    };
    input.oncancel = () => {
      resolve([]);
      input.remove();
    };
    document.body.appendChild(input); // attached, so a test's file chooser finds it
    input.click();
  });
}

function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function addToMain(app: JupyterFrontEnd, widget: MainAreaWidget): void {
  const existing = Array.from(app.shell.widgets('main')).find(w => w.id === widget.id);
  if (existing) {
    widget.dispose();
    app.shell.activateById(existing.id);
    return;
  }
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
}
