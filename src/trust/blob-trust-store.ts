// TrustStoreIO over any BlobStore (S3 bucket/prefix or folder), so the TUF metadata and the signed
// targets live in the same store as the blobs they vouch for:
//   get          -> undefined when the key does not exist
//   put          -> plain overwrite (S3 PUT, folder temp+rename): readers see old or new bytes
//   putIfAbsent  -> exclusive create (S3 If-None-Match: *, folder link(2)); false when the key exists
// (No import of the S3 client here: openTrustStore in store-io.ts is the entry that opens stores by URL.)
import { AlreadyExistsError, type BlobStore } from '../store/types.ts';
import type { TrustStoreIO } from './repository-io.ts';
import { NotFoundError } from '../lib/errors.ts';

const contentType = (key: string): string => (key.endsWith('.json') ? 'application/json' : 'application/octet-stream');

export class BlobTrustStore implements TrustStoreIO {
  readonly store: BlobStore;
  constructor(store: BlobStore) {
    this.store = store;
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await this.store.getBytes(key);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    await this.store.putObject(key, bytes, { contentType: contentType(key) });
  }

  async putIfAbsent(key: string, bytes: Buffer): Promise<boolean> {
    try {
      await this.store.putObject(key, bytes, { exclusive: true, contentType: contentType(key) });
      return true;
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
      // A retried PUT whose first attempt did land answers 412 too: identical bytes are our own write
      // (signed metadata is deterministic, so identical bytes also mean an identical publication).
      const existing = await this.get(key);
      return existing !== undefined && existing.equals(bytes);
    }
  }
}
