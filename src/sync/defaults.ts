// Every default of the edge sync (the engine, its sources and `model-gitops sync`'s flags) in one
// place: an option left out means the value here.
import type { RetryPolicy } from './fetch.ts';

export const SYNC_DEFAULTS = {
  /** Versions kept per model, the active one included: 2 allows an instant local rollback. */
  keepVersions: 2,
  /** Remote ranges closer than this are fetched as one request (fewer round trips, a few more bytes). */
  coalesceGap: 64 * 1024,
  /** Free space to leave on the disk after a download. */
  diskReserve: 64 << 20,
  /** Largest index object accepted. */
  maxIndexBytes: 16 << 20,
  /** Largest manifest accepted (a source sending endless data). */
  maxManifestBytes: 16 << 20,
  /** Largest timestamp.json read by the TUF provider's cheap poll. */
  maxTimestampBytes: 64 * 1024,
  /** What a source's conditional GET reads at most when its caller names no limit. */
  maxConditionalBytes: 64 << 20,
  /** Range requests of one delta in flight at once. */
  deltaConcurrency: 4,
  /** No byte for this long, in the headers or the body, is a stall. */
  idleTimeoutMs: 30_000,
  /** Redirects an HTTP source follows. */
  maxRedirects: 5,
  /** Each request: attempts in all, with exponential backoff and full jitter (src/lib/backoff.ts) between them. */
  retry: { attempts: 5, baseDelayMs: 250, maxDelayMs: 8_000 } as RetryPolicy,
  /** Seconds between polls with `sync --watch`. */
  pollIntervalS: 60,
} as const;
