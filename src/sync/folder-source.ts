// BlobSource over a local folder holding the store's keys (blobs/sha256/..., manifest.json): the
// embedded default, a USB stick, or an NFS mount. The ETag is derived from size and mtime, like a web
// server's, so resume and conditional polls behave as they do over HTTP.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { SYNC_DEFAULTS } from './defaults.ts';
import {
  type BlobSource,
  type ConditionalResult,
  type GetOptions,
  type GetResult,
  type ObjectMeta,
  readAll,
} from './source.ts';
import { NotFoundError } from '../lib/errors.ts';

export class FolderSource implements BlobSource {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = this.root;
  }

  private path(key: string): string {
    const k = normalize(key);
    if (isAbsolute(k) || k.startsWith('..')) throw new Error(`store key escapes the folder: ${key}`);
    return join(this.root, k);
  }

  private async meta(key: string): Promise<ObjectMeta & { size: number }> {
    try {
      const s = await stat(this.path(key));
      if (!s.isFile()) throw new NotFoundError(this.description, key);
      return {
        size: s.size,
        etag: `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}-${s.ino.toString(16)}"`,
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(this.description, key);
      throw e;
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const meta = await this.meta(key);
    const honour =
      options.range && (!options.ifRange || options.ifRange === meta.etag) && options.range[1] <= meta.size;
    if (options.range && honour) {
      const [start, end] = options.range;
      const body = createReadStream(this.path(key), {
        start,
        end: end - 1,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { status: 206, ...meta, contentRange: { start, end, total: meta.size }, contentLength: end - start, body };
    }
    const body = createReadStream(this.path(key), options.signal ? { signal: options.signal } : {});
    return { status: 200, ...meta, contentLength: meta.size, body };
  }

  async head(key: string): Promise<ObjectMeta> {
    return this.meta(key);
  }

  async getConditional(
    key: string,
    etag: string | undefined,
    options: { maxBytes?: number } = {},
  ): Promise<ConditionalResult> {
    const meta = await this.meta(key);
    if (etag !== undefined && etag === meta.etag) return { notModified: true, etag };
    const max = options.maxBytes ?? SYNC_DEFAULTS.maxConditionalBytes;
    if (meta.size > max)
      return {
        notModified: false,
        etag: meta.etag,
        bytes: await readAll(createReadStream(this.path(key)), max, this.path(key)),
      };
    return { notModified: false, etag: meta.etag, bytes: await readFile(this.path(key)) };
  }
}
