// The one table of process exit codes. Every command, the sync engine and the actions take their codes
// from here, so "1" means the same thing in `validate`, `verify`, `sync` and `manifest verify`.
export const EXIT = {
  ok: 0,
  /** The registry has violations, or bytes/a manifest failed verification: the input is wrong. */
  violations: 1,
  /** Same code as `violations`, named for the commands that verify downloads. */
  verification: 1,
  /** Usage or local I/O error (bad flag, unreadable file, full disk): a person fixes the invocation or the machine. */
  usage: 2,
  /** A network or store failure that retries did not get past. */
  network: 3,
  /** A bug: an error that is not a UserError (EX_SOFTWARE), printed with its stack. */
  internal: 70,
  /** Lost a race to other writers; running again later is expected to succeed (EX_TEMPFAIL). */
  retryLater: 75,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The line `--help` prints about exit codes, next to the table it describes. */
export const EXIT_CODES_HELP =
  'exit codes: 0 success, 1 the registry has violations (sync, verify: verification failed; push: the card would be invalid), ' +
  '2 usage or I/O error, 3 network failure after retries (sync), 75 lost a publish race (run again), 70 a bug (with a stack trace)';
