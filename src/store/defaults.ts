// Every tunable of the weight store in one place: the S3 and folder stores and the retry loop read
// their defaults from here, so a reader sees all of them at once and a test can quote them.
const MiB = 1024 * 1024;

export const STORE_DEFAULTS = {
  /** Multipart part size; files up to it go in one PUT (fastest measured on radosgw; S3's 5 MiB minimum applies). */
  partSize: 16 * MiB,
  /** Parts (or files) in flight at once per upload. */
  concurrency: 4,
  /** Where resumable-upload state and the hash cache live, relative to the repository. */
  stateDir: '.model-gitops',
  /** Read size of the folder store's streams. */
  folderReadBytes: 1 * MiB,
  /** Retries of transient S3 failures (first attempt included), full-jitter backoff bounds. */
  retry: { attempts: 6, baseDelayMs: 250, maxDelayMs: 10_000 },
} as const;
