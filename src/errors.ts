// Errors a person can act on. The CLI prints `message` alone (no stack) and exits with `exitCode`.
// Anything that is not a UserError is a bug and is printed with its stack.
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options?.exitCode ?? 2;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
