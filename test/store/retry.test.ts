import { describe, expect, it } from 'vitest';
import { backoffDelay as libBackoffDelay } from '../../src/lib/backoff.ts';
import { isRetryable, withRetry } from '../../src/store/retry.ts';

const backoffDelay = (attempt: number, baseDelayMs: number, maxDelayMs: number) =>
  libBackoffDelay(attempt, { baseDelayMs, maxDelayMs });

const httpError = (status: number, name = 'Error') =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('retry policy', () => {
  it('classifies throttling, 5xx and network errors as transient, the rest as final', () => {
    expect(isRetryable(httpError(503, 'SlowDown'))).toBe(true);
    expect(isRetryable(httpError(500, 'InternalError'))).toBe(true);
    expect(isRetryable(httpError(429))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(new Error('wrapped', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) }))).toBe(
      true,
    );
    expect(isRetryable(httpError(403, 'AccessDenied'))).toBe(false);
    expect(isRetryable(httpError(404, 'NoSuchKey'))).toBe(false);
    expect(isRetryable(httpError(412, 'PreconditionFailed'))).toBe(false);
    expect(isRetryable(new Error('plain bug'))).toBe(false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    for (let i = 0; i < 200; i++) {
      expect(backoffDelay(1, 100, 1000)).toBeLessThanOrEqual(100);
      expect(backoffDelay(3, 100, 1000)).toBeLessThanOrEqual(400);
      expect(backoffDelay(10, 100, 1000)).toBeLessThanOrEqual(1000);
    }
    const samples = Array.from({ length: 200 }, () => backoffDelay(4, 100, 10_000));
    expect(Math.max(...samples)).toBeGreaterThan(400); // grows: attempt 4 may wait up to 800 ms
    expect(new Set(samples).size).toBeGreaterThan(150); // jittered, not a fixed schedule
  });

  it('retries transient failures until success, and stops at once on a final error', async () => {
    let calls = 0;
    const waits: number[] = [];
    const v = await withRetry(
      async () => {
        if (++calls < 3) throw httpError(503, 'SlowDown');
        return 'ok';
      },
      { baseDelayMs: 1, onRetry: (_e, _a, d) => waits.push(d) },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toHaveLength(2);

    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw httpError(403, 'AccessDenied');
        },
        { baseDelayMs: 1 },
      ),
    ).rejects.toThrow('AccessDenied');
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw httpError(500, 'InternalError');
        },
        { attempts: 4, baseDelayMs: 1 },
      ),
    ).rejects.toThrow('InternalError');
    expect(calls).toBe(4);
  });
});
