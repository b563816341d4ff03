/**
 * Opening what nndeploy wrote or holds: a file of `resources/` inside Jupyter's root opens in JupyterLab's own
 * viewer (images, text, JSON...); a video, or a file outside the root, opens in a preview in the main area,
 * loaded from `GET preview` (ranges, so a video seeks).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { imageIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { NndeployClient } from './api/client';
import { WorkspacePaths } from './model/paths';

const VIDEO = /\.(mp4|avi|mov|mkv|webm)$/i;
const IMAGE = /\.(jpe?g|png|bmp|gif|webp|tiff?)$/i;

export class Viewers {
  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly client: NndeployClient,
    private readonly paths: Promise<WorkspacePaths | null>
  ) {}

  /** Open a file named by its absolute server path or by its `resources/...` path. */
  async open(path: string): Promise<void> {
    const paths = await this.paths;
    const absolute = path.startsWith('/') || !paths ? path : paths.absolutePath(path);
    const contents = paths?.contentsPath(absolute) ?? null;
    if (contents && !VIDEO.test(absolute)) {
      await this.app.commands.execute('docmanager:open', { path: contents });
      return;
    }
    this.preview(absolute);
  }

  /** A preview widget of one file (an image, a video, or text). */
  preview(absolute: string): void {
    const id = `nndeploy-preview:${absolute}`;
    const existing = Array.from(this.app.shell.widgets('main')).find(w => w.id === id);
    if (existing) {
      this.app.shell.activateById(id);
      return;
    }
    const content = new Widget();
    content.addClass('jp-NndeployPreview');
    const name = PathExt.basename(absolute);
    if (VIDEO.test(absolute)) {
      const video = document.createElement('video');
      video.controls = true;
      video.src = this.client.previewUrl(absolute, 'video');
      video.setAttribute('aria-label', `Video ${name}`);
      content.node.appendChild(video);
    } else if (IMAGE.test(absolute)) {
      const image = document.createElement('img');
      image.src = this.client.previewUrl(absolute, 'image');
      image.alt = name;
      content.node.appendChild(image);
    } else {
      const text = document.createElement('pre');
      content.node.appendChild(text);
      void fetch(this.client.previewUrl(absolute, 'text'), { credentials: 'same-origin' })
        .then(response => response.text())
        .then(body => (text.textContent = body));
    }
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.title.label = name;
    widget.title.caption = absolute;
    widget.title.icon = imageIcon;
    widget.title.closable = true;
    this.app.shell.add(widget, 'main');
    this.app.shell.activateById(id);
  }
}
