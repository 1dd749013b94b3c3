// Test hook: `MG_SYNC_CRASH_AT=<step>` makes the process exit abruptly at that step, as a power cut or
// a kill would, so tests can prove a fresh sync recovers from every point.
export type CrashStep =
  | 'after-header-fetch'
  | 'mid-range-download'
  | 'after-staging-verify'
  | 'before-symlink-swap'
  | 'after-swap-before-state'
  | 'during-gc';

export function crashPoint(step: CrashStep): void {
  if (process.env.MG_SYNC_CRASH_AT === step) {
    process.stderr.write(`MG_SYNC_CRASH_AT: exiting at ${step}\n`);
    process.exit(97);
  }
}
