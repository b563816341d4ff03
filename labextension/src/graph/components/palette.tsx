/**
 * "Add node": nndeploy's node catalogue, searchable; choosing a type puts a new node in the middle of the view.
 */
import * as React from 'react';

import { useController } from './hooks';

const SHOWN = 150;

export function Palette(): JSX.Element {
  const controller = useController();
  const [query, setQuery] = React.useState('');
  const catalogue = controller.catalogue;
  const found = catalogue ? catalogue.search(query) : [];
  return (
    <div
      className="jp-NndeployGraph-palette"
      role="dialog"
      aria-label="Add a node"
      onKeyDown={event => {
        if (event.key === 'Escape') {
          event.stopPropagation();
          controller.setPalette(false);
        }
      }}
    >
      <input
        className="jp-NndeployGraph-search"
        aria-label="Search node types"
        placeholder="Search nodes by name, type or description"
        value={query}
        autoFocus
        onChange={event => setQuery(event.target.value)}
        onKeyDown={event => {
          if (event.key === 'Enter' && found.length) {
            controller.addNode(found[0]);
          }
        }}
      />
      {!catalogue && (
        <p className="jp-NndeployGraph-empty">{controller.catalogueError ?? 'Loading the node catalogue…'}</p>
      )}
      {catalogue && found.length === 0 && <p className="jp-NndeployGraph-empty">No node type matches “{query}”.</p>}
      <ul className="jp-NndeployGraph-types" aria-label="Node types">
        {found.slice(0, SHOWN).map(type => (
          <li key={type.key}>
            <button aria-label={`Add node ${type.name}`} title={type.desc} onClick={() => controller.addNode(type)}>
              <span className="jp-NndeployGraph-typeName">{type.name}</span>
              <span className="jp-NndeployGraph-typeCategory">{type.category}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
