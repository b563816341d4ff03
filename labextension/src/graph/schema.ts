/**
 * The properties form of a node: a JSON schema made from the node's own fields, with the catalogue entry's
 * values as defaults, `param/types` enums (a value such as `kPixelTypeBGR` names its enum) and the node's
 * `dropdown_params_` as choices. Structural fields (ports, nested nodes, descriptions) are not in the form.
 */
import { INodeJSON } from './json';
import { ParamTypes } from './services';

export interface IJSONSchema {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: IJSONSchema;
  properties?: Record<string, IJSONSchema>;
  required?: string[];
  readOnly?: boolean;
  additionalProperties?: boolean;
}

/** Fields that describe the node rather than parameterise it; `param_` keeps its own copies of some. */
const STRUCTURAL = new Set([
  'key_', 'name_', 'developer_', 'source_', 'desc_', 'version_', 'required_params_', 'ui_params_',
  'io_params_', 'dropdown_params_', 'is_dynamic_input_', 'is_dynamic_output_', 'inputs_', 'outputs_',
  'node_type_', 'io_type_', 'is_graph_', 'is_inner_', 'node_repository_', 'size', 'id',
  'image_url_', 'video_url_', 'audio_url_', 'model_url_', 'other_url_', 'nndeploy_ui_layout'
]);

export function editableKeys(node: Record<string, unknown>): string[] {
  return Object.keys(node).filter(key => !STRUCTURAL.has(key) && node[key] !== null && node[key] !== undefined);
}

/** The schema of a node's form and the form's data (the node's editable fields). */
export function nodeForm(
  node: INodeJSON,
  defaults: INodeJSON | undefined,
  types: ParamTypes
): { schema: IJSONSchema; data: Record<string, unknown> } {
  const schema = objectSchema(node, defaults, types);
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties ?? {})) {
    data[key] = node[key];
  }
  return { schema, data };
}

function objectSchema(
  value: Record<string, unknown>,
  defaults: Record<string, unknown> | undefined,
  types: ParamTypes
): IJSONSchema {
  const dropdowns = isRecord(value.dropdown_params_) ? (value.dropdown_params_ as Record<string, unknown>) : {};
  const properties: Record<string, IJSONSchema> = {};
  for (const key of editableKeys(value)) {
    const choices = Array.isArray(dropdowns[key]) ? (dropdowns[key] as unknown[]) : undefined;
    properties[key] = { title: key, ...valueSchema(value[key], defaults?.[key], types, choices) };
  }
  const required = Array.isArray(value.required_params_)
    ? (value.required_params_ as unknown[]).filter((k): k is string => typeof k === 'string' && k in properties)
    : [];
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

function valueSchema(value: unknown, fallback: unknown, types: ParamTypes, choices?: unknown[]): IJSONSchema {
  const withDefault = (schema: IJSONSchema): IJSONSchema =>
    fallback === undefined || isRecord(fallback) ? schema : { ...schema, default: fallback };
  if (typeof value === 'boolean') {
    return withDefault({ type: 'boolean' });
  }
  if (typeof value === 'number') {
    // A JSON `1.0` reads as 1: only a field whose value and default are both whole numbers is an integer.
    const whole = Number.isInteger(value) && (fallback === undefined || Number.isInteger(fallback));
    return withDefault({ type: whole ? 'integer' : 'number' });
  }
  if (typeof value === 'string') {
    const options = choices ?? types[value];
    return withDefault(options ? { type: 'string', enum: options.includes(value) ? options : [value, ...options] } : { type: 'string' });
  }
  if (Array.isArray(value)) {
    const sample = value.find(v => v !== null) ?? (Array.isArray(fallback) ? fallback[0] : '');
    return withDefault({ type: 'array', items: valueSchema(sample, undefined, types) });
  }
  if (isRecord(value)) {
    return objectSchema(value, isRecord(fallback) ? fallback : undefined, types);
  }
  return { type: 'string' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
