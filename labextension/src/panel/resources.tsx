/**
 * The `resources/` tree: folders expand; a file opens (Enter) in JupyterLab's viewer or a preview; drop files
 * on a folder (or anywhere in the section: into the folder of their kind) to upload them, with progress;
 * Delete (confirmed); Copy path, to paste into a node's parameter (`resources/images/cat.jpg`).
 */
import {
  caretDownIcon,
  caretRightIcon,
  copyIcon,
  deleteIcon,
  fileIcon,
  fileUploadIcon,
  folderIcon,
  imageIcon,
  videoIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import type { FileNode } from '../api/schema';
import { NndeployStore } from '../model/store';
import { Uploads } from '../model/uploads';
import { CommandIDs } from '../tokens';
import { ActionButton, List, Row, StoreSection } from './common';

export class ResourcesSection extends StoreSection {
  constructor(
    store: NndeployStore,
    private readonly commands: CommandRegistry,
    private readonly uploads: Uploads
  ) {
    super(store, 'Resources', ['files']);
    uploads.changed.connect(this.update, this);
  }

  dispose(): void {
    this.uploads.changed.disconnect(this.update, this);
    super.dispose();
  }

  render(): JSX.Element {
    return <ResourcesTree store={this.store} commands={this.commands} uploads={this.uploads} />;
  }
}

function ResourcesTree(props: { store: NndeployStore; commands: CommandRegistry; uploads: Uploads }): JSX.Element {
  const { store, commands, uploads } = props;
  const [open, setOpen] = React.useState<Set<string>>(() => new Set(['resources/images']));
  const [target, setTarget] = React.useState<string | null>(null); // the folder a drag is over
  const children = React.useMemo(() => byParent(store.files), [store.files]);
  const toggle = (path: string): void => {
    const next = new Set(open);
    next.has(path) ? next.delete(path) : next.add(path);
    setOpen(next);
  };
  const drop = (folder: string | undefined) => (event: React.DragEvent) => {
    if (!event.dataTransfer.types.includes('Files')) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    setTarget(null);
    if (folder) {
      setOpen(opened => new Set(opened).add(folder)); // the user sees the files arrive where they dropped them
    }
    void uploads.upload(Array.from(event.dataTransfer.files), folder);
  };
  const over = (folder: string | null) => (event: React.DragEvent) => {
    if (event.dataTransfer.types.includes('Files')) {
      event.preventDefault();
      event.stopPropagation();
      event.dataTransfer.dropEffect = 'copy';
      setTarget(folder);
    }
  };

  const rows: JSX.Element[] = [];
  const walk = (parent: string, level: number): void => {
    for (const node of children.get(parent) ?? []) {
      const isFolder = node.type === 'branch';
      const expanded = isFolder && open.has(node.path);
      rows.push(
        <FileRow
          key={node.id}
          node={node}
          level={level}
          expanded={isFolder ? expanded : undefined}
          dropTarget={target === node.path}
          commands={commands}
          onToggle={() => toggle(node.path)}
          dropProps={
            isFolder ? { onDragOver: over(node.path), onDragEnter: over(node.path), onDrop: drop(node.path) } : undefined
          }
        />
      );
      if (expanded) {
        walk(node.id, level + 1);
      }
    }
  };
  walk('', 1);

  return (
    <div
      className={`jp-NndeployResources ${target === '' ? 'jp-mod-dropTarget' : ''}`}
      onDragOver={over('')}
      onDragLeave={event => event.currentTarget === event.target && setTarget(null)}
      onDrop={drop(undefined)}
    >
      <div className="jp-NndeployPanel-toolbar" role="toolbar" aria-label="Resources toolbar">
        <span className="jp-NndeployPanel-summary">Drop files here to upload them</span>
        <ActionButton action={{ label: 'Upload files into resources', icon: fileUploadIcon, onClick: () => void commands.execute(CommandIDs.uploadFiles) }} />
      </div>
      {uploads.items.length ? <UploadList uploads={uploads} /> : null}
      <List label="Resources" empty={store.loaded ? 'resources/ is empty.' : 'Loading…'} items={rows} row={drawn => drawn} />
    </div>
  );
}

const FileRow = React.memo(function FileRow(props: {
  node: FileNode;
  level: number;
  expanded?: boolean;
  dropTarget: boolean;
  commands: CommandRegistry;
  onToggle: () => void;
  dropProps?: React.HTMLAttributes<HTMLLIElement>;
}): JSX.Element {
  const { node, commands } = props;
  const args = { path: node.path };
  const isFolder = node.type === 'branch';
  const Icon = isFolder ? folderIcon : iconFor(node.name);
  const actions = isFolder
    ? [
        { label: `${props.expanded ? 'Collapse' : 'Expand'} ${node.path}`, icon: props.expanded ? caretDownIcon : caretRightIcon, onClick: props.onToggle },
        { label: `Upload files into ${node.path}`, icon: fileUploadIcon, onClick: () => void commands.execute(CommandIDs.uploadFiles, { folder: node.path }) }
      ]
    : [
        { label: `Copy the path ${node.path}`, icon: copyIcon, onClick: () => void commands.execute(CommandIDs.copyPath, args) },
        { label: `Delete ${node.path}`, icon: deleteIcon, onClick: () => void commands.execute(CommandIDs.deleteFile, args) }
      ];
  return (
    <Row
      kind={isFolder ? 'folder' : 'file'}
      id={node.path}
      label={node.name}
      className={`jp-NndeployFile ${props.dropTarget ? 'jp-mod-dropTarget' : ''}`}
      level={props.level}
      expanded={props.expanded}
      icon={
        <span className="jp-NndeployFile-indent" style={{ paddingLeft: `${(props.level - 1) * 12}px` }}>
          <Icon.react tag="span" className="jp-NndeployFile-icon" />
        </span>
      }
      detail={isFolder ? undefined : formatBytes(node.file_info.size)}
      onOpen={isFolder ? props.onToggle : () => void commands.execute(CommandIDs.openFile, args)}
      onDelete={isFolder ? undefined : () => void commands.execute(CommandIDs.deleteFile, args)}
      actions={actions}
      draggable={!isFolder}
      onDragStart={event => event.dataTransfer.setData('text/plain', node.path)}
      dropProps={props.dropProps}
    />
  );
});

function UploadList({ uploads }: { uploads: Uploads }): JSX.Element {
  return (
    <ul className="jp-NndeployPanel-list jp-NndeployUploads" aria-label="Uploads">
      {uploads.items.map(item => (
        <li key={item.id} className={`jp-NndeployUpload ${item.error ? 'jp-mod-error' : ''}`}>
          <span className="jp-NndeployPanel-name">
            {item.name} → {item.folder}
          </span>
          {item.error ? (
            <>
              <span className="jp-NndeployTask-error">{item.error}</span>
              <ActionButton action={{ label: `Dismiss the failed upload of ${item.name}`, icon: deleteIcon, onClick: () => uploads.dismiss(item.id) }} />
            </>
          ) : (
            <progress value={item.fraction} max={1} aria-label={`Uploading ${item.name}: ${Math.round(item.fraction * 100)}%`} />
          )}
        </li>
      ))}
    </ul>
  );
}

function byParent(files: readonly FileNode[]): Map<string, FileNode[]> {
  const map = new Map<string, FileNode[]>();
  for (const node of files) {
    const siblings = map.get(node.parentId);
    siblings ? siblings.push(node) : map.set(node.parentId, [node]);
  }
  return map;
}

function iconFor(name: string): typeof fileIcon {
  if (/\.(jpe?g|png|bmp|gif|webp|tiff?)$/i.test(name)) {
    return imageIcon;
  }
  if (/\.(mp4|avi|mov|mkv|webm)$/i.test(name)) {
    return videoIcon;
  }
  return fileIcon;
}

export function formatBytes(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
