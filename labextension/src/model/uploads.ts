/**
 * Uploads into `resources/` in flight, with their progress: the Resources section draws them, from a drop or
 * from the upload command alike. Once one lands, the store's file tree is reloaded.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { describeError } from '../api/client';
import type { FileInfo } from '../api/schema';
import { NndeployStore } from './store';

export interface IUpload {
  id: number;
  name: string;
  folder: string;
  /** 0..1 of the bytes sent. */
  fraction: number;
  error: string | null;
}

/** Where a file goes when it is not dropped on a folder: the folder nndeploy keeps its kind in. */
export function folderFor(file: File): string {
  const type = file.type.split('/')[0];
  if (type === 'image') {
    return 'resources/images';
  }
  if (type === 'video') {
    return 'resources/videos';
  }
  if (type === 'audio') {
    return 'resources/audios';
  }
  if (/\.(onnx|mnn|tflite|pt|pth|bin|param|engine|om|xml|rknn|gguf|safetensors)$/i.test(file.name)) {
    return 'resources/models';
  }
  return 'resources/others';
}

export class Uploads {
  constructor(private readonly store: NndeployStore) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get items(): readonly IUpload[] {
    return this._items;
  }

  /** Upload each file (into `folder`, or the one its kind goes to); resolves with what landed. */
  async upload(files: Iterable<File>, folder?: string): Promise<FileInfo[]> {
    const landed = await Promise.all([...files].map(file => this._one(file, folder ?? folderFor(file))));
    await this.store.refreshFiles();
    return landed.filter((info): info is FileInfo => info !== null);
  }

  /** Forget the failed ones the user has read. */
  dismiss(id: number): void {
    this._items = this._items.filter(item => item.id !== id);
    this._changed.emit();
  }

  private async _one(file: File, folder: string): Promise<FileInfo | null> {
    const item: IUpload = { id: ++this._ids, name: file.name, folder, fraction: 0, error: null };
    this._items = [...this._items, item];
    this._changed.emit();
    try {
      const info = await this.store.client.uploadFile(folder, file, fraction => {
        item.fraction = fraction;
        this._changed.emit();
      });
      this._items = this._items.filter(i => i !== item);
      return info;
    } catch (error) {
      item.error = describeError(error);
      return null;
    } finally {
      this._changed.emit();
    }
  }

  private _items: IUpload[] = [];
  private _ids = 0;
  private _changed = new Signal<this, void>(this);
}
