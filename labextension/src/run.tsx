/**
 * "Run with parameters": a dialog with one form per node of the workflow, made from the catalogue as the
 * graph's properties form is (defaults, `dropdown_params_`, `param/types` enums). Only the fields the user
 * changed are sent, as `params` of `POST queue` (`{"<node name_>": {"<key>": value}}`), so the saved workflow
 * is left as it is.
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { FormComponent, IFormComponentProps } from '@jupyterlab/ui-components';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import * as React from 'react';

import { GraphJSON, NndeployClient } from './api/client';
import { Catalogue } from './graph/catalogue';
import { NO_VALIDATION, WIDGETS } from './graph/components/form';
import { INodeJSON } from './graph/json';
import { IJSONSchema, nodeForm } from './graph/schema';
import { IDagInfo } from './graph/services';

export type Params = Record<string, Record<string, unknown>>;

/** Ask for the parameters of a run; null when the user cancels. `{}` runs the workflow as saved. */
export async function askParameters(client: NndeployClient, graph: GraphJSON): Promise<Params | null> {
  const catalogue = new Catalogue(await client.dagInfo<IDagInfo>(), await client.paramTypes());
  const nodes = ((graph.node_repository_ as INodeJSON[] | undefined) ?? []).filter(n => n && n.name_);
  const properties: Record<string, IJSONSchema> = {};
  const initial: Record<string, Record<string, unknown>> = {};
  for (const node of nodes) {
    const form = nodeForm(node, catalogue.get(node.key_)?.entity, catalogue.paramTypes);
    if (Object.keys(form.schema.properties ?? {}).length) {
      properties[node.name_] = { ...form.schema, title: node.name_ };
      initial[node.name_] = form.data;
    }
  }
  const body = new ParametersForm({ type: 'object', properties }, initial);
  const result = await showDialog({
    title: `Run ${graph.name_} with parameters`,
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run', ariaLabel: `Run ${graph.name_} with these parameters` })]
  });
  return result.button.accept ? changed(initial, body.data) : null;
}

class ParametersForm extends ReactWidget {
  constructor(
    private readonly schema: IJSONSchema,
    initial: Record<string, Record<string, unknown>>
  ) {
    super();
    this.addClass('jp-NndeployRunForm');
    this.data = initial;
  }

  data: Record<string, Record<string, unknown>>;

  render(): JSX.Element {
    if (!Object.keys(this.schema.properties ?? {}).length) {
      return <p>This workflow's nodes have no parameters to set.</p>;
    }
    return (
      <FormComponent
        idPrefix="jp-NndeployRunForm"
        schema={this.schema as IFormComponentProps['schema']}
        formData={this.data as ReadonlyJSONObject}
        validator={NO_VALIDATION}
        widgets={WIDGETS}
        onChange={event => (this.data = event.formData as Record<string, Record<string, unknown>>)}
        compact
        showModifiedFromDefault
      />
    );
  }
}

/** What differs from `before`, nested objects compared field by field. */
export function changed(before: Record<string, unknown>, after: Record<string, unknown>): Params {
  const params: Params = {};
  for (const [node, values] of Object.entries(after)) {
    const diff = difference(before[node], values);
    if (diff !== undefined) {
      params[node] = diff as Record<string, unknown>;
    }
  }
  return params;
}

function difference(before: unknown, after: unknown): unknown {
  if (isRecord(before) && isRecord(after)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(after)) {
      const diff = difference(before[key], value);
      if (diff !== undefined) {
        out[key] = diff;
      }
    }
    return Object.keys(out).length ? out : undefined;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? undefined : after;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
