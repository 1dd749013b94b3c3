// Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): the one delay policy
// for every retry loop (store requests, edge downloads, publish races), so they cannot drift apart.
import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffPolicy {
  /** Upper bound of the first delay. */
  baseDelayMs: number;
  /** No delay is longer than this. */
  maxDelayMs: number;
}

/** Delay before retry number `attempt` (1-based): uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return random() * cap;
}

/** Waits the backoff delay for `attempt` and returns it (in ms, rounded). */
export async function backoff(attempt: number, policy: BackoffPolicy, signal?: AbortSignal): Promise<number> {
  const delay = Math.round(backoffDelay(attempt, policy));
  await sleep(delay, undefined, signal ? { signal } : undefined);
  return delay;
}
