// The trust repository inside a blob store: BlobTrustStore (the TrustStoreIO adapter) and
// openTrustStore(url) for s3://bucket/prefix, file:// URLs and folder paths.
import { openStore, type OpenStoreOptions } from '../store/open.ts';
import { BlobTrustStore } from './blob-trust-store.ts';

export { BlobTrustStore };

/** The trust repository inside the store at `url` (s3://bucket/prefix, file:// URL or folder path). */
export function openTrustStore(url: string, options: OpenStoreOptions = {}): BlobTrustStore {
  return new BlobTrustStore(openStore(url, options));
}
