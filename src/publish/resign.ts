// resignStore: renew the signatures on what is published (timestamp and snapshot, targets when due)
// without changing the manifest bytes, so a quiet registry does not expire on the fleet.
import { backoff } from '../lib/backoff.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { UserError } from '../lib/errors.ts';
import type { BlobStore } from '../store/types.ts';
import { ConcurrentPublishError, type PublishKeys, resign } from '../trust/repository.ts';
import { BlobTrustStore } from '../trust/blob-trust-store.ts';
import { PUBLISH_DEFAULTS, publishExpiries } from './defaults.ts';
import { readCurrentPublication } from './store-reads.ts';

export interface ResignStoreOptions {
  store: BlobStore;
  keys: PublishKeys;
  now?: Date;
  expiresIn?: number;
  recoverOrphans?: boolean;
  maxAttempts?: number;
}

/** Re-sign timestamp and snapshot (and targets when it is within half its lifetime); the manifest bytes do not change. */
export async function resignStore(o: ResignStoreOptions) {
  const expiries = publishExpiries(o.expiresIn ?? PUBLISH_DEFAULTS.expiresIn);
  const io = new BlobTrustStore(o.store);
  const maxAttempts = o.maxAttempts ?? PUBLISH_DEFAULTS.maxAttempts;
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await resign({
        io,
        keys: o.keys,
        ...(o.now ? { now: o.now } : {}),
        expiries,
        skipOrphanedVersions: o.recoverOrphans ?? false,
      });
      const cur = await readCurrentPublication(o.store);
      return { ...r, sequence: cur.manifest?.sequence ?? null, sha256: cur.sha256 ?? null, attempts: attempt };
    } catch (e) {
      if (!(e instanceof ConcurrentPublishError) || attempt >= maxAttempts) {
        if (e instanceof ConcurrentPublishError) {
          throw new UserError(
            `${e.message}. Gave up after ${maxAttempts} attempts; if no other publish is running, re-run with --recover`,
            { exitCode: EXIT.retryLater },
          );
        }
        throw e;
      }
      await backoff(attempt, PUBLISH_DEFAULTS.retryBackoff);
    }
  }
}
