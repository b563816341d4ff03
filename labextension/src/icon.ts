import { LabIcon } from '@jupyterlab/ui-components';

/** A small three-node graph: nndeploy's pipelines are DAGs. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="5" cy="6" r="3"/><circle cx="5" cy="18" r="3"/><circle cx="19" cy="12" r="3"/>
    <path d="M7.5 7.2 16.6 11l-.8 1.8-9.1-3.8zM6.7 15.2l9.1-3.8.8 1.8-9.1 3.8z"/>
  </g>
</svg>`;

export const nndeployIcon = new LabIcon({ name: 'nndeploy-jupyter:graph', svgstr });
