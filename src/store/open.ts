// openStore(url): s3://bucket/prefix → S3Store; file:///abs/path or a plain path → FolderStore.
import { UserError } from '../lib/errors.ts';
import { FolderStore } from './fs-store.ts';
import { S3Store } from './s3-store.ts';
import type { S3StoreOptions } from './s3-store.ts';
import type { BlobStore } from './types.ts';

export interface OpenStoreOptions {
  s3?: S3StoreOptions;
}

export function openStore(url: string, options: OpenStoreOptions = {}): BlobStore {
  if (url.startsWith('s3://')) return new S3Store(url, options.s3);
  if (url.startsWith('file://') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return new FolderStore(url);
  throw new UserError(`unsupported store URL "${url}": use s3://bucket/prefix, file:///absolute/path or a folder path`);
}
