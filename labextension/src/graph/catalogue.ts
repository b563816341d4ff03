/**
 * nndeploy's node catalogue (`dag/info`): the node types a graph can use, by category, with their default
 * fields, searchable by name, key and description.
 */
import { INodeJSON } from './json';
import { IDagInfo, ParamTypes } from './services';

export interface INodeType {
  key: string;
  name: string;
  category: string;
  desc: string;
  entity: INodeJSON;
}

export class Catalogue {
  constructor(dag: IDagInfo, readonly paramTypes: ParamTypes) {
    const names = new Map(dag.nodes.filter(n => n.type === 'branch').map(n => [n.id, n.name]));
    this.types = dag.nodes
      .filter(n => n.type === 'leaf' && n.nodeEntity)
      .map(n => ({
        key: String(n.nodeEntity?.key_ ?? n.id),
        name: n.name,
        category: names.get(n.parentId ?? '') ?? n.parentId ?? '',
        desc: String(n.nodeEntity?.desc_ ?? n.desc ?? ''),
        entity: n.nodeEntity as INodeJSON
      }))
      .sort((a, b) => a.category.localeCompare(b.category) || a.name.localeCompare(b.name));
    this._byKey = new Map(this.types.map(t => [t.key, t]));
  }

  readonly types: INodeType[];

  /** A node type's catalogue entry (its defaults), by `key_`. */
  get(key: unknown): INodeType | undefined {
    return typeof key === 'string' ? this._byKey.get(key) : undefined;
  }

  /** Node types whose name, key, category or description contains every word of the query. */
  search(query: string): INodeType[] {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return this.types.filter(t => {
      const text = `${t.name} ${t.key} ${t.category} ${t.desc}`.toLowerCase();
      return words.every(w => text.includes(w));
    });
  }

  private _byKey: Map<string, INodeType>;
}
