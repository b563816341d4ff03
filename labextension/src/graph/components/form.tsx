/**
 * The properties of the selected node, as a form made with JupyterLab's own `FormComponent` (rjsf) from the
 * catalogue (defaults, `dropdown_params_`, `param/types` enums).
 */
import { FormComponent, IFormComponentProps } from '@jupyterlab/ui-components';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import * as React from 'react';

import { nodeForm } from '../schema';
import { useChanges, useController } from './hooks';

/**
 * The form needs no schema validation of its own (the schema only says each field's type, which the widgets
 * enforce; the server checks the graph before it runs). This keeps rjsf's AJV validator out of the bundle:
 * JupyterLab shares `FormComponent`, not a validator.
 */
export const NO_VALIDATION: IFormComponentProps['validator'] = {
  validateFormData: () => ({ errors: [], errorSchema: {} }),
  toErrorList: () => [],
  isValid: () => true,
  rawValidation: () => ({ errors: [], validationError: undefined })
};

type WidgetProps = {
  id: string;
  label: string;
  name: string;
  value: unknown;
  disabled?: boolean;
  readonly?: boolean;
  options: { enumOptions?: { label: string; value: unknown }[] };
  onChange: (value: unknown) => void;
  registry: { templates: { BaseInputTemplate: React.ComponentType<any> } };
  [key: string]: unknown;
};

/** rjsf's own input, with the field's name as its accessible name (JupyterLab's labels are not `<label>`s). */
function LabelledText(props: WidgetProps): JSX.Element {
  const Input = props.registry.templates.BaseInputTemplate;
  return <Input {...props} aria-label={props.label || props.name} />;
}

/** A choice among the enum's values, named for screen readers and tests alike. */
function LabelledSelect(props: WidgetProps): JSX.Element {
  const choices = props.options.enumOptions ?? [];
  const index = choices.findIndex(c => c.value === props.value);
  return (
    <select
      id={props.id}
      className="form-control"
      aria-label={props.label || props.name}
      value={index < 0 ? '' : String(index)}
      disabled={props.disabled || props.readonly}
      onChange={event => props.onChange(choices[Number(event.target.value)]?.value)}
    >
      {choices.map((choice, i) => (
        <option key={i} value={String(i)}>
          {choice.label}
        </option>
      ))}
    </select>
  );
}

export const WIDGETS = { TextWidget: LabelledText, SelectWidget: LabelledSelect } as unknown as IFormComponentProps['widgets'];

export function PropertiesPanel(): JSX.Element | null {
  const controller = useController();
  const version = useChanges(controller.changed);
  const id = controller.selected;
  const node = id ? controller.model.node(id) : null;
  const form = React.useMemo(() => {
    if (!node) {
      return null;
    }
    const defaults = controller.catalogue?.get(node.key_)?.entity;
    return nodeForm(node, defaults, controller.catalogue?.paramTypes ?? {});
  }, [version, id, controller.catalogue]);
  if (!id || !node || !form) {
    return null;
  }
  const fields = Object.keys(form.schema.properties ?? {}).length;
  return (
    <aside className="jp-NndeployGraph-properties" aria-label={`Properties of ${node.name_}`}>
      <header className="jp-NndeployGraph-propertiesHeader">
        <h3>{node.name_}</h3>
        <button
          className="jp-NndeployGraph-iconButton"
          aria-label={`Close properties of ${node.name_}`}
          onClick={() => controller.select(null)}
        >
          ×
        </button>
      </header>
      <p className="jp-NndeployGraph-propertiesKey">{String(node.key_ ?? '')}</p>
      {node.desc_ ? <p className="jp-NndeployGraph-propertiesDesc">{String(node.desc_)}</p> : null}
      {fields === 0 ? (
        <p className="jp-NndeployGraph-empty">This node has no parameters.</p>
      ) : (
        <FormComponent
          key={id}
          idPrefix={`${controller.domId}-${id.replace(/[^\w-]/g, '_')}`}
          schema={form.schema as IFormComponentProps['schema']}
          formData={form.data as ReadonlyJSONObject}
          validator={NO_VALIDATION}
          widgets={WIDGETS}
          onChange={event => controller.model.setFields(id, event.formData as Record<string, unknown>)}
          compact
          showModifiedFromDefault
        />
      )}
    </aside>
  );
}
