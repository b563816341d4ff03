/**
 * Where the workspace is in Jupyter's file browser: `resources/` is an absolute folder on the server; the
 * contents API names files relative to the server's root. A workspace outside the root has no such paths.
 */
import { PageConfig, PathExt } from '@jupyterlab/coreutils';

export class WorkspacePaths {
  private constructor(
    /** The absolute path of `resources/` on the server. */
    readonly absolute: string,
    /** Its contents path (relative to the server root), or null when it is outside the root. */
    readonly resources: string | null
  ) {}

  static async load(services: { resourcesDir(): Promise<string> }): Promise<WorkspacePaths> {
    const root = trim(PageConfig.getOption('serverRoot'));
    const absolute = trim(await services.resourcesDir());
    const inside = root !== '' && (absolute === root || absolute.startsWith(`${root}/`));
    return new WorkspacePaths(absolute, inside ? absolute.slice(root.length).replace(/^\/+/, '') : null);
  }

  /** The contents path of `resources/workflow/`, or null when the workspace is outside the root. */
  get workflowFolder(): string | null {
    return this.resources === null ? null : PathExt.join(this.resources, 'workflow');
  }

  /** The contents path of a file under `resources/` named by its absolute server path, or null. */
  contentsPath(absolute: string): string | null {
    if (this.resources === null || !absolute.startsWith(`${this.absolute}/`)) {
      return null;
    }
    return PathExt.join(this.resources, absolute.slice(this.absolute.length + 1));
  }

  /** The absolute server path of a `resources/...` path (as the file tree and graphs name files). */
  absolutePath(resourcePath: string): string {
    return PathExt.join(this.absolute, resourcePath.replace(/^resources\/?/, ''));
  }

  isWorkflowFile(path: string): boolean {
    const folder = this.workflowFolder;
    return folder !== null && PathExt.dirname(path) === folder && PathExt.extname(path) === '.json';
  }
}

function trim(path: string): string {
  return path.replace(/\/+$/, '');
}
