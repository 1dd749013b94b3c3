// Errors a person can act on. The CLI prints `message` alone (no stack) and exits with `exitCode`.
// Anything that is not a UserError is a bug and is printed with its stack.
import { EXIT } from './exit-codes.ts';

export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options?.exitCode ?? EXIT.usage;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** An object that does not exist where it was asked for (store key, source file, HTTP 404): never retried. */
export class NotFoundError extends UserError {
  /** Where it was looked for: a store URL, a source's base. */
  readonly where: string;
  readonly key: string;
  constructor(where: string, key: string) {
    super(`${where}: "${key}" not found`);
    this.name = 'NotFoundError';
    this.where = where;
    this.key = key;
  }
}

// Errno codes of local I/O a person fixes (disk full, permissions, read-only mount, missing or wrong
// kind of path, too many open files). They are usage/I-O errors, not bugs.
const LOCAL_IO_CODES = new Set([
  'ENOSPC',
  'EDQUOT',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  'ENOTEMPTY',
  'EMFILE',
  'ENFILE',
  'ENAMETOOLONG',
  'ELOOP',
  'EXDEV',
  'EBUSY',
  'EIO',
  'EFBIG',
  'ETXTBSY',
]);

/**
 * The error as a person sees it: a UserError as it is; an OS error of local I/O (ENOSPC, EACCES…) as a
 * UserError with the usage/I-O exit code and the OS message (the original kept as `cause`); anything
 * else undefined, because it is a bug and keeps its stack.
 */
export function asUserError(e: unknown): UserError | undefined {
  if (isUserError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && LOCAL_IO_CODES.has(code))
    return new UserError((e as Error).message, { exitCode: EXIT.usage, cause: e });
  return undefined;
}
