// `--manifest` names the manifest; the store's other keys (blobs/, indexes/) sit beside it, so the
// manifest's location also gives the BlobSource: an http(s) URL, an s3:// URL or a local path.
import { basename, dirname, resolve } from 'node:path';
import { FolderSource } from './folder-source.ts';
import { HttpSource, type HttpSourceOptions } from './http-source.ts';
import { S3Source } from './s3-source.ts';
import type { BlobSource } from './source.ts';
import { MANIFEST_KEY } from '../store/keys.ts';

export function locateManifest(location: string, options: HttpSourceOptions = {}): { source: BlobSource; key: string } {
  if (/^https?:\/\//i.test(location)) {
    const u = new URL(location);
    const key = u.pathname.slice(u.pathname.lastIndexOf('/') + 1) || MANIFEST_KEY;
    return { source: new HttpSource(new URL('.', u).href, options), key };
  }
  if (/^s3:\/\//i.test(location)) {
    const u = new URL(location);
    const slash = u.pathname.lastIndexOf('/');
    return {
      source: S3Source.fromUrl(`s3://${u.hostname}${u.pathname.slice(0, slash + 1)}`),
      key: u.pathname.slice(slash + 1) || MANIFEST_KEY,
    };
  }
  const path = resolve(location.replace(/^file:\/\//, ''));
  return { source: new FolderSource(dirname(path)), key: basename(path) };
}

/**
 * With --trust, --manifest names the store root (the TUF repository lives beside the blobs): a folder,
 * s3://bucket/prefix or an http(s) base. A trailing /manifest.json is accepted and dropped.
 */
export function locateStoreRoot(
  location: string,
  options: HttpSourceOptions = {},
): { source: BlobSource; key: string; base: string } {
  const base = location.replace(/\/manifest\.json$/i, '').replace(/\/+$/, '');
  if (/^https?:\/\//i.test(base)) return { ...locateManifest(`${base}/manifest.json`, options), base: `${base}/` };
  if (/^s3:\/\//i.test(base)) return { ...locateManifest(`${base}/manifest.json`, options), base };
  const path = resolve(base.replace(/^file:\/\//, ''));
  return { source: new FolderSource(path), key: MANIFEST_KEY, base: path };
}
