// Versions fetched from the weight store for a gateway that follows the signed manifest, through the
// edge-sync engine: the same content-addressed cache, tensor-level deltas (a canary fine-tune costs
// its changed tensors, not the whole file), retries, resumable downloads and sha256 checks against
// what the verified manifest vouches for. A version folder is only ever built from verified blobs, and
// retain() prunes what the gateway no longer serves, so the cache does not grow with every release.
import type { ManifestVersion } from '../manifest/manifest.ts';
import { fetchVersion, pruneVersions, type SyncEvent } from '../sync/engine.ts';
import type { RetryPolicy } from '../sync/fetch.ts';
import type { BlobSource } from '../sync/source.ts';
import type { VersionSource } from './source.ts';

export interface StoreVersionSourceOptions {
  retry?: RetryPolicy;
  onEvent?: (e: SyncEvent) => void;
}

export class StoreVersionSource implements VersionSource {
  readonly source: BlobSource;
  /** A sync cache (blobs/, indexes/, models/<m>/versions/<v>/), see src/sync/local-store.ts. */
  readonly cacheDir: string;
  private readonly options: StoreVersionSourceOptions;
  /** The gateway loads versions in parallel; fetching one at a time keeps two downloads out of one
   * staging file and lets a canary's delta reuse the tensors its champion just brought. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(source: BlobSource, cacheDir: string, options: StoreVersionSourceOptions = {}) {
    this.source = source;
    this.cacheDir = cacheDir;
    this.options = options;
  }

  materialize(model: string, version: string, entry: ManifestVersion): Promise<string> {
    return this.serially(() =>
      fetchVersion({
        dir: this.cacheDir,
        source: this.source,
        model,
        version,
        files: entry.files,
        ...(this.options.retry ? { retry: this.options.retry } : {}),
        ...(this.options.onEvent ? { onEvent: this.options.onEvent } : {}),
      }),
    );
  }

  /** Deletes cached versions not listed, and the blobs only they used; queued behind running fetches. */
  retain(versions: { model: string; version: string; entry: ManifestVersion }[]): Promise<void> {
    const keep = versions.map((v) => ({ model: v.model, version: v.version, files: v.entry.files }));
    return this.serially(() =>
      pruneVersions({ dir: this.cacheDir, keep, ...(this.options.onEvent ? { onEvent: this.options.onEvent } : {}) }),
    );
  }

  /** Runs `work` after everything queued before it; a failure is the caller's, never the queue's. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
