// publish's tunables in one place (expiries, retry bounds, how wide the store reads fan out) and --expires-in parsing.
import type { BackoffPolicy } from '../lib/backoff.ts';
import { UserError } from '../lib/errors.ts';
import { DEFAULT_EXPIRIES, type Expiries } from '../trust/repository.ts';

const DAY = 86_400;

export const PUBLISH_DEFAULTS = {
  /** Seconds until the manifest, targets and snapshot expire (`--expires-in`). */
  expiresIn: 7 * DAY,
  /** timestamp.json never lives longer than this, whatever `--expires-in` says. */
  maxTimestampExpiresIn: 2 * DAY,
  /** Bound on claim/publication (and re-sign) retries when other publishers race. */
  maxAttempts: 20,
  /** Delay between retries after losing a compare-and-swap to another publisher. */
  retryBackoff: { baseDelayMs: 50, maxDelayMs: 1000 } satisfies BackoffPolicy,
  /** Referenced blobs are verified in batches of this many ... */
  blobCheckBatch: 64,
  /** ... with this many batches in flight. */
  blobCheckConcurrency: 8,
  /** Parallel HEADs for per-tensor indexes. */
  indexCheckConcurrency: 16,
  /** Parallel reads of benchmark reports. */
  benchmarkReadConcurrency: 16,
  /** Parallel reads of targets metadata and manifests/N.json (history). */
  historyReadConcurrency: 16,
  /** Rewrites of the convenience copy while other publishers keep moving the signed pointer. */
  convenienceCopyRounds: 5,
} as const;

export const DEFAULT_EXPIRES_IN = PUBLISH_DEFAULTS.expiresIn;

/** TUF expiries for a publication or re-sign that should last `expiresIn` seconds. */
export function publishExpiries(expiresIn: number): Expiries {
  const timestamp = Math.min(PUBLISH_DEFAULTS.maxTimestampExpiresIn, expiresIn);
  return { ...DEFAULT_EXPIRIES, targets: expiresIn, snapshot: expiresIn, timestamp };
}

/** "7d", "12h", "30m", "90s" or a number of seconds. */
export function parseDuration(text: string, what = '--expires-in'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/.exec(text.trim());
  if (!m) throw new UserError(`${what} must be a duration like 7d, 12h, 30m or 3600 (seconds), got "${text}"`);
  const n = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: DAY, w: 7 * DAY } as Record<string, number>)[m[2]!]!;
  if (!(n >= 60)) throw new UserError(`${what} must be at least a minute, got "${text}"`);
  return Math.round(n);
}
