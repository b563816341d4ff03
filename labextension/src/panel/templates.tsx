/**
 * Templates, grouped by category: each with its cover and its readme (rendered by JupyterLab's rendermime,
 * shown when the row is expanded); Run, Open as graph, Save as workflow.
 */
import { MimeModel, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { caretDownIcon, caretRightIcon, fileIcon, runIcon, saveIcon, settingsIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import type { TemplateSummary } from '../api/schema';
import { nndeployIcon } from '../icon';
import { NndeployStore } from '../model/store';
import { CommandIDs } from '../tokens';
import { Group, List, Row, StoreSection } from './common';

export class TemplatesSection extends StoreSection {
  constructor(
    store: NndeployStore,
    private readonly commands: CommandRegistry,
    private readonly rendermime: IRenderMimeRegistry | null
  ) {
    super(store, 'Templates', ['templates']);
  }

  render(): JSX.Element {
    const groups = new Map<string, TemplateSummary[]>();
    for (const template of this.store.templates) {
      const category = template.category_ || 'Other';
      groups.set(category, [...(groups.get(category) ?? []), template]);
    }
    if (!groups.size) {
      return <List label="Templates" empty={this.store.loaded ? 'No templates found.' : 'Loading…'} items={[]} row={() => null} />;
    }
    return (
      <div className="jp-NndeployPanel-groups">
        {[...groups].map(([category, templates]) => (
          <Group key={category} label={category} count={templates.length}>
            <List
              label={`Templates: ${category}`}
              empty=""
              items={templates}
              row={t => <TemplateRow key={t.id} template={t} store={this.store} commands={this.commands} rendermime={this.rendermime} />}
            />
          </Group>
        ))}
      </div>
    );
  }
}

function TemplateRow(props: {
  template: TemplateSummary;
  store: NndeployStore;
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry | null;
}): JSX.Element {
  const { template, commands } = props;
  const [open, setOpen] = React.useState(false);
  const args = { templateId: template.id };
  const name = template.name_;
  const cover = template.cover_ ? (
    <img className="jp-NndeployPanel-cover" src={props.store.client.previewUrl(template.cover_, 'image')} alt={`Cover of ${name}`} loading="lazy" />
  ) : (
    <nndeployIcon.react tag="span" className="jp-NndeployPanel-cover jp-mod-placeholder" />
  );
  return (
    <Row
      kind="template"
      id={template.id}
      label={name}
      detail={template.desc_}
      icon={cover}
      expanded={open}
      onOpen={() => void commands.execute(CommandIDs.openGraph, args)}
      actions={[
        { label: `${open ? 'Hide' : 'Show'} the readme of ${name}`, icon: open ? caretDownIcon : caretRightIcon, onClick: () => setOpen(!open) },
        { label: `Run ${name}`, icon: runIcon, onClick: () => void commands.execute(CommandIDs.run, args) },
        { label: `Run ${name} with parameters`, icon: settingsIcon, onClick: () => void commands.execute(CommandIDs.runWithParameters, args) },
        { label: `Open ${name} as a graph`, icon: fileIcon, onClick: () => void commands.execute(CommandIDs.openGraph, args) },
        { label: `Save ${name} as a workflow`, icon: saveIcon, onClick: () => void commands.execute(CommandIDs.saveTemplate, args) }
      ]}
    >
      {open ? <Readme markdown={template.requirements_ || template.desc_ || 'This template has no readme.'} rendermime={props.rendermime} /> : null}
    </Row>
  );
}

/** Markdown through JupyterLab's own renderer (sanitised, themed), or as text without one. */
function Readme(props: { markdown: string; rendermime: IRenderMimeRegistry | null }): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const node = host.current;
    if (!node || !props.rendermime) {
      return;
    }
    const renderer = props.rendermime.createRenderer('text/markdown');
    void renderer.renderModel(new MimeModel({ data: { 'text/markdown': props.markdown } }));
    node.replaceChildren(renderer.node);
    return () => renderer.dispose();
  }, [props.markdown, props.rendermime]);
  return (
    <div className="jp-NndeployPanel-readme" ref={host}>
      {props.rendermime ? null : <pre>{props.markdown}</pre>}
    </div>
  );
}
