// Errors of the sync engine. The three a person acts on are UserErrors with the CLI's exit codes
// (src/lib/exit-codes.ts): 1 verification (bytes or manifest refused), 2 usage or local I/O, 3 network
// after retries. TransientError is internal: the retry loop catches it; it never reaches the CLI unwrapped.
import { asUserError, UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';

export class VerificationError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: EXIT.verification, ...options });
    this.name = 'VerificationError';
  }
}

export class NetworkError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: EXIT.network, ...options });
    this.name = 'NetworkError';
  }
}

export class DiskSpaceError extends UserError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.usage });
    this.name = 'DiskSpaceError';
  }
}

/**
 * A failed request that may succeed if tried again. `code` says what went wrong, so callers can
 * react (e.g. `range-ignored`: the server answered a Range request with 200; retrying won't help).
 */
export type TransientCode =
  | 'status'
  | 'connection'
  | 'stall'
  | 'short-body'
  | 'long-body'
  | 'bad-content-range'
  | 'range-ignored'
  | 'changed';

export class TransientError extends Error {
  readonly code: TransientCode;
  readonly status: number | undefined;
  constructor(code: TransientCode, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransientError';
    this.code = code;
    this.status = options?.status;
  }
}

/** A 4xx other than 404/416: a configuration problem (auth, bad URL) that retries cannot fix. */
export class PermanentSourceError extends NetworkError {}

/**
 * A failure of the input, the network or the OS (a UserError, a local I/O error, a failed request):
 * one to report, or to fall back from. Anything else is a bug, rethrown with its stack.
 */
export function isOperationalError(e: unknown): boolean {
  return e instanceof TransientError || asUserError(e) !== undefined;
}
