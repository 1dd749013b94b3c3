// Retries with exponential backoff and full jitter for transient S3 failures. The SDK's own retries
// are turned off (maxAttempts: 1) so there is one policy, one attempt count, and one place that decides.
import { backoffDelay } from '../lib/backoff.ts';
import { STORE_DEFAULTS } from './defaults.ts';

export interface RetryOptions {
  /** Total attempts, first one included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each wait, e.g. for logging. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);

interface ErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

export function httpStatus(e: unknown): number | undefined {
  return (e as ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** Throttling (429/503/SlowDown), server errors (5xx) and network failures are worth another try. */
export function isRetryable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as ErrorShape;
  const status = httpStatus(e);
  if (status !== undefined && (status === 429 || status >= 500)) return true;
  if (err.name && RETRYABLE_NAMES.has(err.name)) return true;
  if (err.Code && RETRYABLE_NAMES.has(err.Code)) return true;
  if (err.code && NETWORK_CODES.has(err.code)) return true;
  if (err.$retryable) return true;
  // A network error without an HTTP response: no status, and a code somewhere down the cause chain.
  return status === undefined && err.cause !== undefined && isRetryable(err.cause);
}

/** Run `fn` until it succeeds, a non-retryable error occurs, or attempts run out (last error thrown). */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? STORE_DEFAULTS.retry.attempts;
  const policy = {
    baseDelayMs: options.baseDelayMs ?? STORE_DEFAULTS.retry.baseDelayMs,
    maxDelayMs: options.maxDelayMs ?? STORE_DEFAULTS.retry.maxDelayMs,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isRetryable(e)) throw e;
      const delay = backoffDelay(attempt, policy);
      options.onRetry?.(e, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
