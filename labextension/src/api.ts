/**
 * Calls to the nndeploy server extension (`{base_url}nndeploy/api/...`).
 *
 * Every request goes through `ServerConnection`, so the token, the XSRF header and the base URL are the
 * ones JupyterLab itself uses (also under JupyterHub).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One saved workflow, as `GET nndeploy/api/workflows` lists it. */
export interface IWorkflowSummary {
  id: string;
  name_: string;
  developer_?: string | null;
  desc_?: string | null;
}

/** One template, as `GET nndeploy/api/template` lists it. */
export interface ITemplateSummary {
  id: string;
  name_: string;
  desc_?: string | null;
  category_?: string | null;
}

/** nndeploy's response envelope. */
interface IEnvelope<T> {
  flag: 'success' | 'error';
  message: string;
  result: T;
}

/**
 * The server answered, but not with nndeploy's envelope (an HTML 404 page, Jupyter's own JSON error):
 * the `nndeploy_jupyter` server extension is not installed or not enabled.
 */
export class ServerExtensionMissing extends Error {
  constructor(readonly status: number) {
    super(
      'The nndeploy server extension is not answering ' +
        `(HTTP ${status} from nndeploy/api). Install the Python package nndeploy-jupyter, ` +
        'check that `jupyter server extension list` shows nndeploy_jupyter enabled, then restart Jupyter.'
    );
  }
}

/** `GET`/`POST` one API path and return the envelope's `result`; a failure throws with the server's reason. */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'nndeploy', 'api', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const body = parseEnvelope<T>(await response.text());
  if (body === null) {
    throw new ServerExtensionMissing(response.status);
  }
  if (!response.ok || body.flag !== 'success') {
    throw new ServerConnection.ResponseError(response, body.message);
  }
  return body.result;
}

export function listWorkflows(): Promise<IWorkflowSummary[]> {
  return requestAPI<IWorkflowSummary[]>('workflows');
}

export function listTemplates(): Promise<ITemplateSummary[]> {
  return requestAPI<ITemplateSummary[]>('template');
}

function parseEnvelope<T>(text: string): IEnvelope<T> | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  const isEnvelope =
    typeof body === 'object' && body !== null && 'flag' in body && 'message' in body;
  return isEnvelope ? (body as IEnvelope<T>) : null;
}
